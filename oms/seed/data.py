"""The demo data set's fixed content: logins, channels, locations, products, names, places, carriers and how far orders get."""

from dataclasses import dataclass, field

from inventory.models import Location
from oms.roles import CUSTOMER_SERVICE, MANAGER, WAREHOUSE
from orders.models import Channel

DEMO_USERS = [
    # username, password, role (None = superuser)
    ("admin", "oms-demo-admin", None),
    ("warehouse", "oms-demo-warehouse", WAREHOUSE),
    ("service", "oms-demo-service", CUSTOMER_SERVICE),
    ("manager", "oms-demo-manager", MANAGER),
]
# The demo people's names: the admin greets a person, not a role.
DEMO_USER_NAMES = {
    "admin": ("Sam", "Rivera"),
    "warehouse": ("Wendy", "Okafor"),
    "service": ("Carlos", "Mendes"),
    "manager": ("Priya", "Nair"),
}

CHANNELS = [
    ("web", "Web shop", Channel.Kind.WEB, True),
    ("marketplace", "Marketplace", Channel.Kind.MARKETPLACE, False),
    ("phone", "Phone orders", Channel.Kind.PHONE, True),
]

LOCATIONS = [
    # code, name, kind, country, priority, ships_to, address, bin prefix
    (
        "RNO",
        "Reno warehouse",
        Location.Kind.WAREHOUSE,
        "US",
        10,
        "US,CA",
        "1200 Logistics Way\nReno, NV 89502\nUnited States",
        "A",
    ),
    (
        "BKN",
        "Brooklyn store",
        Location.Kind.STORE,
        "US",
        20,
        "US",
        "85 Wythe Ave\nBrooklyn, NY 11249\nUnited States",
        "S",
    ),
    (
        "BER",
        "Berlin 3PL",
        Location.Kind.THIRD_PARTY,
        "DE",
        10,
        "DE,AT,BE,DK,ES,FR,IE,IT,NL,PL,PT,SE,GB",
        "Lagerstraße 7\n12099 Berlin\nGermany",
        "B",
    ),
]

PRODUCT_FAMILIES = [
    (
        "TSH",
        "Merino T-shirt",
        ["BLK", "NVY", "GRY"],
        ["S", "M", "L", "XL"],
        "34.00",
        180,
    ),
    (
        "HOO",
        "Organic cotton hoodie",
        ["BLK", "OAT"],
        ["S", "M", "L", "XL"],
        "79.00",
        620,
    ),
    ("SCK", "Hiking socks (2-pack)", ["GRY", "GRN"], ["M", "L"], "18.50", 120),
    ("CAP", "Waxed canvas cap", ["OLV", "BRN"], ["OS"], "29.00", 110),
    ("BTL", "Insulated bottle 750 ml", ["STL", "BLU", "RED"], ["OS"], "32.00", 400),
    ("BAG", "Roll-top backpack 22 l", ["BLK", "SND"], ["OS"], "129.00", 950),
    ("JKT", "Packable rain jacket", ["BLK", "YLW"], ["S", "M", "L"], "149.00", 420),
    ("MUG", "Enamel camp mug", ["WHT", "BLU"], ["OS"], "16.00", 260),
    ("BLT", "Leather belt", ["BRN", "BLK"], ["90", "100"], "45.00", 200),
    ("GLV", "Merino liner gloves", ["BLK", "GRY"], ["S", "M", "L"], "24.00", 60),
    ("TNT", "Ultralight tent 2p", ["GRN"], ["OS"], "349.00", 1450),
    ("LMP", "Rechargeable headlamp", ["BLK", "ORG"], ["OS"], "39.00", 90),
    ("PNT", "Trail pants", ["BLK", "KHK"], ["S", "M", "L"], "89.00", 380),
    ("BNE", "Rib-knit beanie", ["GRY", "RED", "NVY"], ["OS"], "22.00", 80),
]

FIRST = [
    "Ada",
    "Ben",
    "Chloé",
    "Dev",
    "Ewa",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kemal",
    "Lena",
    "Malik",
    "Nora",
    "Oscar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tariq",
    "Uma",
    "Viktor",
    "Wen",
    "Yara",
    "Zoe",
]
LAST = [
    "Adams",
    "Becker",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "García",
    "Hansen",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lopez",
    "Müller",
    "Nguyen",
    "Okafor",
    "Petrov",
]
US_CITIES = [
    ("Austin", "TX", "78701"),
    ("Denver", "CO", "80202"),
    ("Seattle", "WA", "98101"),
    ("Chicago", "IL", "60601"),
    ("Boston", "MA", "02108"),
    ("Portland", "OR", "97201"),
]
EU_CITIES = [
    ("Hamburg", "", "20095", "DE"),
    ("München", "", "80331", "DE"),
    ("Wien", "", "1010", "AT"),
    ("Lyon", "", "69001", "FR"),
    ("Amsterdam", "", "1012", "NL"),
    ("København", "", "1050", "DK"),
]
STREETS = [
    "Main St",
    "Oak Avenue",
    "Hauptstraße",
    "Rue de la Paix",
    "Elm Road",
    "Keizersgracht",
]

ORDER_COUNT = 320
# Share of orders taken to each end state, by how far along they are.
JOURNEY = [
    ("delivered", 0.22),
    ("shipped", 0.16),
    ("packed", 0.08),
    ("picking", 0.08),
    ("on_hold", 0.06),
    ("cancelled", 0.06),
    ("pending", 0.02),
    ("allocated", 0.32),
]

# Orders still to ship arrived since the last cut-off, as on a normal
# working day; this share of them (on hold: the larger one) waits from
# before it, late to ship.
LATE_SHARE = 0.03
LATE_SHARE_ON_HOLD = 0.25
# Typical hours from order to hand-over, per channel (each order varies by
# ±30 %): the dashboard's time to ship differs by channel, as it would.
SHIP_HOURS = {
    "web": 16,
    "marketplace": 31,
    "phone": 9,
    "shopify-demo": 22,
    "woo-demo": 40,
}


FULFILMENT_TARGETS = {"picking", "packed", "shipped", "delivered"}
# Orders per pick list wave.
WAVE_SIZE = 16
CARRIERS = [
    # code, name, tracking URL template, services
    (
        "pex",
        "Parcel Express",
        "https://track.example.com/parcel-express/{tracking}",
        "Ground, Express",
    ),
    (
        "swift",
        "Swift Post",
        "https://swiftpost.example.org/track?number={tracking}",
        "Standard, Priority",
    ),
]


@dataclass
class SeedReport:
    users_created: list[tuple[str, str, str]] = field(default_factory=list)
    products: int = 0
    orders_created: int = 0
    orders_existing: int = 0
    # A fresh API key of the web shop (shown once), for the curl example.
    api_channel: str = ""
    api_key: str = ""
    api_sku: str = ""
