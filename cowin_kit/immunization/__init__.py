"""Routine immunization across the life course: due lists, zero-dose children and
defaulters, reminders and campaigns. Reads people (registration), doses and visits
(vaccination) and the schedules (programme); the pure due rules are programme.due."""
