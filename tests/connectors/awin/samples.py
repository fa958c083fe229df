"""Hand-written Awin API data (shapes of apis.md §2.4-2.5) and a fake Awin API.

Transaction dates are written in UTC here; :class:`FakeAwin` answers them in
the time zone a request asks for, without offset, exactly as Awin does, and
filters by the requested window and ``dateType``. Results come unsorted.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

TOKEN = "awin-test-token-8f2c1d0e9b7a"
WRONG_TOKEN = "awin-wrong-token-000111222"
ADVERTISER_ID = 15880
PUBLISHER_ID = 300401
BASE_URL = "https://awin.test"

AMENDED: dict[str, Any] = {
    "id": 3050000117,
    "url": "https://www.wanderwelt-magazin.example",
    "advertiserId": ADVERTISER_ID,
    "publisherId": PUBLISHER_ID,
    "commissionSharingPublisherId": None,
    "campaign": None,
    "siteName": "Wanderwelt Magazin",
    "commissionStatus": "approved",
    "commissionAmount": {"amount": 8.07, "currency": "EUR"},
    "saleAmount": {"amount": 100.84, "currency": "EUR"},
    "ipHash": "-3377004455667788990",
    "customerCountry": "AT",
    "clickRefs": {"clickRef": "fruehling-ranking", "clickRef3": "newsletter"},
    "clickDate": "2025-03-10T17:02:00",
    "transactionDate": "2025-03-10T17:09:00",
    "validationDate": "2025-04-02T06:15:00",
    "type": "Commission group transaction",
    "declineReason": None,
    "voucherCodeUsed": False,
    "voucherCode": None,
    "lapseTime": 431,
    "amended": True,
    "amendReason": "Trinkflasche retourniert",
    "oldSaleAmount": {"amount": 125.97, "currency": "EUR"},
    "oldCommissionAmount": {"amount": 9.33, "currency": "EUR"},
    "clickDevice": "Windows",
    "transactionDevice": "Windows",
    "customerAcquisition": None,
    "publisherUrl": "https://www.wanderwelt-magazin.example/rucksack-test-2025",
    "advertiserCountry": "AT",
    "orderRef": "2031",
    "customParameters": [],
    "transactionParts": [
        {
            "commissionGroupId": 88101,
            "amount": 100.84,
            "commissionAmount": 8.07,
            "advertiserCost": None,
            "commissionGroupCode": "DEFAULT",
            "commissionGroupName": "Default",
            "trackedParts": [{"code": "DEFAULT", "amount": 100.84, "currency": "EUR"}],
        },
        {
            "commissionGroupId": 88102,
            "amount": 0.0,
            "commissionAmount": 0.0,
            "advertiserCost": None,
            "commissionGroupCode": "ACC",
            "commissionGroupName": "Accessories",
            "trackedParts": [{"code": "ACC", "amount": 25.13, "currency": "EUR"}],
        },
    ],
    "paidToPublisher": False,
    "paymentId": 0,
    "transactionQueryId": 0,
    "trackedCurrencyAmount": None,
    "originalSaleAmount": None,
    "advertiserCost": {"amount": None, "currency": None},
    "networkFee": {"amount": 2.42, "currency": "EUR"},
    "basketProducts": None,
    "_amendmentDate": "2025-04-01T09:00:00",
}

PENDING: dict[str, Any] = {
    **copy.deepcopy(AMENDED),
    "id": 3050000201,
    "publisherId": 300555,
    "siteName": "Gutschein-Paradies",
    "url": "https://gutschein-paradies.example",
    "commissionStatus": "pending",
    "commissionAmount": {"amount": 7.8, "currency": "EUR"},
    "saleAmount": {"amount": 97.5, "currency": "EUR"},
    "clickRefs": None,
    "clickDate": "2025-03-28T22:40:00",
    "transactionDate": "2025-03-28T23:30:00",  # 00:30 on the 29th in Berlin
    "validationDate": None,
    "voucherCodeUsed": True,
    "voucherCode": "SPRING10",
    "amended": False,
    "amendReason": None,
    "oldSaleAmount": None,
    "oldCommissionAmount": None,
    "transactionDevice": "iPhone",
    "clickDevice": "iPhone",
    "customerAcquisition": "NEW",
    "orderRef": "2042",
    "customParameters": [{"key": "1", "value": "shopify"}],
    "transactionParts": [
        {
            "commissionGroupId": 88101,
            "amount": 97.5,
            "commissionAmount": 7.8,
            "commissionGroupCode": "DEFAULT",
            "commissionGroupName": "Default",
            "trackedParts": [{"code": "DEFAULT", "amount": 97.5, "currency": "EUR"}],
        }
    ],
    "basketProducts": [
        {
            "productId": "9100000000001",
            "productName": "Tagesrucksack Alpsee 28 l",
            "unitPrice": 32.5,
            "quantity": 2,
            "skuCode": "ALP-RUCK-28-BLU",
            "commissionGroupCode": "DEFAULT",
            "category": "Rucksäcke",
        },
        {
            "productId": "9100000000002",
            "productName": "Trinkflasche 1 l",
            "unitPrice": 32.5,
            "quantity": 1,
            "skuCode": "",
            "commissionGroupCode": "DEFAULT",
            "category": "Zubehör",
        },
    ],
    "_amendmentDate": None,
}

DECLINED: dict[str, Any] = {
    **copy.deepcopy(AMENDED),
    "id": 3050000305,
    "commissionStatus": "declined",
    "commissionAmount": {"amount": 25.099999999999998, "currency": "EUR"},
    "saleAmount": {"amount": 313.70000000000005, "currency": "EUR"},
    "clickRefs": {
        "clickRef": "größe-tabelle",
        "clickRef2": "über-uns",
        "clickRef3": "ß",
        "clickRef4": "café",
        "clickRef5": "naïve",
        "clickRef6": "Ærø",
    },
    "clickDate": "2025-02-20T08:00:00",
    "transactionDate": "2025-02-20T08:15:00",
    "validationDate": "2025-03-05T10:00:00",
    "declineReason": "Bestellung storniert",
    "amended": False,
    "amendReason": None,
    "oldSaleAmount": None,
    "oldCommissionAmount": None,
    "orderRef": "1988",
    "transactionParts": [
        {
            "commissionGroupId": 88101,
            "amount": 213.7,
            "commissionAmount": 17.1,
            "commissionGroupCode": "DEFAULT",
            "commissionGroupName": "Default",
            "trackedParts": [],
        },
        {
            "commissionGroupId": 88103,
            "amount": 100.0,
            "commissionAmount": 8.0,
            "commissionGroupCode": "SALE",
            "commissionGroupName": "Sale items",
            "trackedParts": [],
        },
    ],
    "_amendmentDate": None,
}

PARTIAL: dict[str, Any] = {
    **copy.deepcopy(PENDING),
    "id": 3050000412,
    "commissionStatus": "pending",
    "saleAmount": {"amount": 125.0, "currency": "EUR"},
    "commissionAmount": {"amount": 10, "currency": "EUR"},
    "trackedCurrencyAmount": {"amount": 121.6, "currency": "CHF"},
    "clickRefs": {"clickRef": "", "clickRef2": "sidebar"},
    "customerCountry": "",
    "orderRef": "",
    "voucherCode": "",
    "customerAcquisition": "RETURNING",
    "transactionDate": "2025-03-15T11:00:00",
    "basketProducts": [],
}

TRANSACTIONS = [AMENDED, PENDING, DECLINED, PARTIAL]

PUBLISHERS = [
    {
        "id": PUBLISHER_ID,
        "name": "Wanderwelt Magazin",
        "primaryRegion": {"countryCode": "AT", "name": "Austria"},
        "salesRegions": [{"countryCode": "AT"}, {"countryCode": "DE"}],
        "primaryType": "Content",
    },
    {
        "id": 300555,
        "name": "Gutschein-Paradies",
        "primaryRegion": {"countryCode": "de", "name": "Germany"},
        "salesRegions": [],
        "primaryType": "Voucher Code",
    },
]

PROGRAMMES = [
    {
        "id": ADVERTISER_ID,
        "name": "Alpenglück Outdoor AT",
        "displayUrl": "https://www.alpenglueck.example",
        "clickThroughUrl": "https://www.awin1.com/awclick.php?mid=15880&id=300401",
        "currencyCode": "EUR",
        "primaryRegion": {"countryCode": "AT", "name": "Austria"},
        "primarySector": "Sports & Outdoor",
        "status": "Active",
        "linkStatus": "Active",
        "validDomains": [{"domain": "alpenglueck.example"}],
        "description": "Rucksäcke und Wanderausrüstung aus Tirol",
    }
]

COMMISSION_GROUPS = {
    ADVERTISER_ID: [
        {
            "groupId": 88101,
            "groupCode": "DEFAULT",
            "groupName": "Default",
            "type": "percentage",
            "percentage": 8.000000000000002,
        },
        {
            "groupId": 88104,
            "groupCode": "JS",
            "groupName": None,
            "type": "fix",
            "amount": 100,
            "currency": "GBP",
        },
    ]
}


def fresh(items: Any) -> Any:
    """A deep copy, so a test cannot change the shared samples."""
    return copy.deepcopy(items)


class FakeAwin:
    """A MockTransport handler behaving like the Awin API for one user and its accounts."""

    def __init__(
        self,
        *,
        transactions: list[dict[str, Any]] | None = None,
        token: str = TOKEN,
        accounts: tuple[tuple[int, str], ...] = (
            (ADVERTISER_ID, "advertiser"),
            (PUBLISHER_ID, "publisher"),
        ),
        responder: Callable[[httpx.Request], httpx.Response | None] | None = None,
    ) -> None:
        self.transactions = fresh(TRANSACTIONS if transactions is None else transactions)
        self.token = token
        self.accounts = accounts
        self.responder = responder
        self.requests: list[httpx.Request] = []

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.responder is not None:
            answer = self.responder(request)
            if answer is not None:
                return answer
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return _json(
                401,
                {
                    "error": "unauthorized",
                    "description": "Full authentication is required to access this resource",
                },
            )
        path = request.url.path
        parts = path.strip("/").split("/")
        if path == "/accounts":
            return _json(
                200,
                {
                    "userId": 1234,
                    "accounts": [
                        {"accountId": aid, "accountName": f"acc {aid}", "accountType": kind}
                        for aid, kind in self.accounts
                    ],
                },
            )
        if len(parts) < 3 or parts[0] not in ("advertisers", "publishers"):
            return _json(404, {"error": "exception", "description": "No handler found"})
        kind = parts[0][:-1]
        if (int(parts[1]), kind) not in self.accounts:
            return _json(403, {"error": "forbidden", "description": "Access is denied"})
        if parts[2] == "transactions":
            if not path.endswith("/"):
                return _json(404, {"error": "exception", "description": "No handler found"})
            return self._transactions(request, kind, int(parts[1]))
        if kind == "advertiser" and parts[2] == "publishers":
            return _json(200, fresh(PUBLISHERS))
        if kind == "publisher" and parts[2] == "programmes":
            return _json(200, fresh(PROGRAMMES))
        if kind == "publisher" and parts[2] == "commissiongroups":
            advertiser = int(request.url.params["advertiserId"])
            body = {
                "advertiser": advertiser,
                "publisher": int(parts[1]),
                "commissionGroups": fresh(COMMISSION_GROUPS.get(advertiser, [])),
            }
            return _json(200, body)
        return _json(404, {"error": "exception", "description": "No handler found"})

    def _transactions(self, request: httpx.Request, kind: str, account: int) -> httpx.Response:
        params = request.url.params
        zone = ZoneInfo(params.get("timezone", "UTC"))
        start = datetime.fromisoformat(params["startDate"]).replace(tzinfo=zone)
        end = datetime.fromisoformat(params["endDate"]).replace(tzinfo=zone)
        if end - start > timedelta(days=31) or end < start:
            return _json(400, {"error": "bad request", "description": "date range over 31 days"})
        field = {
            "transaction": "transactionDate",
            "validation": "validationDate",
            "amendment": "_amendmentDate",
        }[params.get("dateType", "transaction")]
        key = "advertiserId" if kind == "advertiser" else "publisherId"
        found = []
        for transaction in self.transactions:
            if transaction.get(key) != account or transaction.get(field) is None:
                continue
            moment = datetime.fromisoformat(transaction[field]).replace(tzinfo=UTC)
            if start <= moment <= end:
                found.append(_localised(transaction, zone))
        found.reverse()  # Awin does not sort
        return _json(200, found)


def _localised(transaction: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    out = {key: value for key, value in fresh(transaction).items() if not key.startswith("_")}
    for key in ("clickDate", "transactionDate", "validationDate"):
        if out.get(key):
            moment = datetime.fromisoformat(out[key]).replace(tzinfo=UTC).astimezone(zone)
            out[key] = moment.replace(tzinfo=None).isoformat()
    return out


def _json(status: int, body: Any) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode())
