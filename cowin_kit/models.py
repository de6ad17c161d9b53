"""Imports every domain's models so that the metadata is complete (for Alembic and tests)."""

from cowin_kit.audit.models import AuditEvent
from cowin_kit.certificates.models import Certificate
from cowin_kit.config.models import InstalledPack
from cowin_kit.geography.models import Facility, Location, PopulationFigure, PostalCode
from cowin_kit.identity.models import Gender, IdDocumentType, RoleGrant, StaffUser
from cowin_kit.notifications.models import OutboxMessage
from cowin_kit.scheduling.models import (
    Appointment, SessionDoseCapacity, SessionProduct, SessionSlot, SlotAlertSubscription,
    VaccinationSession,
)
from cowin_kit.registration.models import (
    Beneficiary, BeneficiaryCorrection, CitizenAccount, Dose, OtpTransaction, Pregnancy,
)
from cowin_kit.registration.tally import DoseDay, DoseTally, DoseTotal
from cowin_kit.reporting.summary import ReportPerson
from cowin_kit.vaccination.models import AefiReport, CertificateDue
from cowin_kit.safety.models import AefiAlert, AefiReportDose, AefiStep
from cowin_kit.immunization.models import (
    Campaign, CampaignArea, DueRefresh, PendingDose, ReminderSent,
)
from cowin_kit.programme.models import VaccineProduct, VaccineSchedule
from cowin_kit.fieldsync.models import FieldRecord, FieldReview
from cowin_kit.stock.models import Alert as StockAlert, Balance as StockBalance
from cowin_kit.stock.models import Entry as StockEntry, Lot as StockLot
from cowin_kit.stock.models import OpenVial as StockOpenVial, Store as StockStore
from cowin_kit.channels.models import ChannelPin, InboundSms, UssdSession
from cowin_kit.corrections.models import (
    ChangeRequest, DuplicateCandidate, Grievance, PersonMatchKey, PersonMerge, SetAsideDose,
)
from cowin_kit.privacy.models import RetentionMark
from cowin_kit.core.partition_models import PartitionConversion
from cowin_kit.reporting import models as _reporting_indexes  # noqa: F401  (indexes on dose)

# The receivers of cowin_kit.core.signals, connected wherever rows can be written.
from cowin_kit.certificates import receivers as _certificate_receivers  # noqa: F401,E402
from cowin_kit.immunization import receivers as _immunization_receivers  # noqa: F401,E402
from cowin_kit.corrections import receivers as _correction_receivers  # noqa: F401,E402

__all__ = [
    "RetentionMark", "PartitionConversion",
    "AuditEvent", "DoseDay", "DoseTally", "DoseTotal", "ReportPerson", "InstalledPack",
    "Location", "PopulationFigure",
    "PostalCode", "Gender",
    "IdDocumentType", "RoleGrant", "StaffUser", "Facility", "SessionDoseCapacity",
    "SessionSlot", "SessionProduct", "VaccinationSession", "VaccineProduct", "VaccineSchedule",
    "Beneficiary", "BeneficiaryCorrection", "CitizenAccount", "OtpTransaction", "Pregnancy",
    "Dose", "Appointment",
    "SlotAlertSubscription", "AefiReport", "CertificateDue", "Certificate",
    "Campaign", "CampaignArea", "ReminderSent", "PendingDose", "DueRefresh",
    "FieldRecord", "FieldReview", "AefiAlert", "AefiReportDose", "AefiStep",
    "StockAlert", "StockBalance", "StockEntry", "StockLot", "StockOpenVial", "StockStore",
    "ChangeRequest", "DuplicateCandidate", "Grievance", "PersonMatchKey", "PersonMerge",
    "SetAsideDose",
]
