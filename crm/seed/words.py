"""The word lists synthetic data is made of (names, companies, cities, titles, note forms)."""

from __future__ import annotations

from crm.models import Lifecycle


def _words(text: str) -> list[str]:
    return text.split()


FIRST = _words(
    "James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Nancy Matthew Lisa "
    "Anthony Betty Mark Sandra Donald Ashley Steven Emily Paul Donna Andrew Michelle Joshua "
    "Carol Kevin Amanda Brian Melissa George Deborah Timothy Stephanie Ronald Rebecca Jason "
    "Laura Edward Sharon Jeffrey Cynthia Ryan Kathleen Jacob Amy Gary Angela Nicholas "
    "Shirley Eric Anna Jonathan Brenda Stephen Pamela Larry Emma Justin Nicole Scott Helen "
    "Brandon Samantha Benjamin Katherine Samuel Christine Gregory Debra Alexander Rachel "
    "Frank Carolyn Patrick Janet Raymond Catherine Jack Maria Dennis Heather Jerry Diane "
    "Tyler Ruth Aaron Julie José Zoë Renée François Søren Agnieszka Hiroshi Mei Priya Arjun "
    "Olga Chiara Mateo Lucía Aisha Kwame Fatima Lars Ingrid Mohammed Yuki Wei Camille Björn "
    "Dmitri Ana Sven Leila Omar "
)
LAST = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
    "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
    "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott "
    "Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter "
    "Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart "
    "Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed "
    "Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray "
    "Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Müller "
    "Schmidt Dubois Rossi Kowalski Novak Tanaka Suzuki Chen Wang Singh Kumar Larsen "
    "Johansson Ivanova Okafor Mensah Haddad Costa "
)
COMPANY_A = _words(
    "North Blue Bright Silver Green Iron Summit Harbor Pioneer Vertex Apex Cedar Oak Maple "
    "Granite Crystal Golden Rapid Clear Quantum Nimbus Atlas Orion Sierra Delta Coastal "
    "Prairie Evergreen Redwood Falcon Lighthouse Beacon Cobalt Copper Horizon Keystone "
    "Meridian Nova "
)
COMPANY_B = _words(
    "Logistics Analytics Foods Health Robotics Software Systems Labs Capital Partners Energy "
    "Media Design Freight Bakery Studios Consulting Dynamics Networks Textiles Pharma "
    "Outdoor Education Insurance Builders Motors Marine Hospitality Security Audio Solar "
    "Water Farms "
)
SUFFIX = ("Inc.", "LLC", "Ltd", "GmbH", "Group", "Co.", "", "", "")
INDUSTRIES = (
    "Software",
    "Manufacturing",
    "Retail",
    "Healthcare",
    "Finance",
    "Logistics",
    "Education",
    "Hospitality",
    "Energy",
    "Media",
    "Construction",
    "Agriculture",
)
SIZES = ("1-10", "11-50", "51-200", "201-500", "501-1000", "1000+")
CITIES = (
    ("Austin", "TX", "US"),
    ("Denver", "CO", "US"),
    ("Boston", "MA", "US"),
    ("Seattle", "WA", "US"),
    ("Chicago", "IL", "US"),
    ("Toronto", "ON", "CA"),
    ("London", "", "GB"),
    ("Berlin", "", "DE"),
    ("Paris", "", "FR"),
    ("Madrid", "", "ES"),
    ("Amsterdam", "", "NL"),
    ("Stockholm", "", "SE"),
    ("Sydney", "NSW", "AU"),
)
STREETS = ("Main St", "Oak Ave", "Market St", "High St", "Park Rd", "Mill Ln", "River Rd")
TITLES = (
    "CEO",
    "CTO",
    "CFO",
    "VP Sales",
    "Head of Marketing",
    "Operations Manager",
    "Buyer",
    "Procurement Lead",
    "Office Manager",
    "Engineer",
    "Product Manager",
    "Founder",
    "Director",
)
TAGS = (
    "vip",
    "newsletter",
    "partner",
    "reseller",
    "trade-show",
    "webinar",
    "referral",
    "churn-risk",
    "enterprise",
    "smb",
    "renewal",
    "beta",
    "decision-maker",
    "influencer",
    "europe",
    "americas",
)
SOURCES = ("website", "referral", "trade show", "cold call", "webinar", "import", "linkedin")
TOPICS = (
    "pricing",
    "the renewal",
    "onboarding",
    "the pilot",
    "integration with their ERP",
    "next quarter's order",
    "the support ticket",
    "a volume discount",
    "the contract terms",
    "their expansion to Europe",
    "training for the new team",
    "the invoice",
)
NOTE_FORMS = (
    "Talked about {t}. They want a follow-up next week.",
    "Sent a summary about {t}; waiting for their reply.",
    "{n} asked about {t}. Looped in the product team.",
    "Quick check-in on {t}. All good for now.",
    "Left a voicemail about {t}.",
    "Meeting went well; {t} is their priority this quarter.",
)
OUTCOMES = ("connected", "voicemail", "no answer", "busy")
TASK_FORMS = ("Call {n} about {t}", "Send proposal for {t}", "Follow up on {t}", "Email {n}")
DEAL_FORMS = ("{c} – {t}", "{c} renewal", "{c} expansion", "{c} pilot")
LIFECYCLE_WEIGHTS = (
    (Lifecycle.LEAD, 40),
    (Lifecycle.PROSPECT, 25),
    (Lifecycle.CUSTOMER, 25),
    (Lifecycle.FORMER, 5),
    (Lifecycle.OTHER, 5),
)


def ascii_slug(text: str) -> str:
    table = str.maketrans("éëèçøöüäåóíáñšłżß", "eeecoouaaoiansizs")
    return "".join(ch for ch in text.lower().translate(table) if ch.isalnum())
