"""Vaccine safety: AEFI reports (WHO core variables) from staff and citizens, serious-case
alerts to the district, the investigation stages of the pack with WHO causality
classification, and lot and facility signals. Sits above vaccination (it reads doses);
docs/safety.md describes it for a ministry."""
