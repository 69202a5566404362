"""The Intuit pages the conformance cases are written from (checked 2026-12)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

DATA_QUERIES = "https://developer.intuit.com/app/developer/qbo/docs/learn/explore-the-quickbooks-online-api/data-queries"
DATA_QUERIES_OLD = ("https://developer.intuit.com/docs/00_quickbooks_online/2_build/"
                    "20_explore_the_quickbooks_online_api/50_data_queries")
BLOG_QUERIES_2023 = "https://blogs.intuit.com/2023/06/15/building-smarter-with-intuit-supercharge-your-queries/"
BLOG_QUERIES_2017 = "https://developer.intuit.com/hub/blog/2017/02/08/deep-dive-sql-queries"
COMMON_ERRORS = "https://developer.intuit.com/app/developer/qbo/docs/develop/troubleshooting/handling-common-errors"
INVOICE_REF = "https://developer.intuit.com/app/developer/qbo/docs/api/accounting/most-commonly-used/invoice"
REFRESH_POLICY_2025 = "https://blogs.a.intuit.com/2025/11/12/important-changes-to-refresh-token-policy"
AUTH_FAQ = "https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/faq"
BATCH_BLOG_2023 = "https://blogs.intuit.com/2023/07/19/building-smarter-with-intuit-batch-without-a-scratch"
LIMITS = "https://developer.intuit.com/app/developer/qbo/docs/learn/limits-and-throttles"
BUILDER_TIER_2026 = ("https://blogs.intuit.com/2026/01/08/"
                     "understanding-builder-tier-api-limits-for-you-and-your-customers")
CUSTOM_FIELDS = "https://developer.intuit.com/app/developer/qbo/docs/workflows/create-custom-fields/get-started"
CUSTOM_FIELDS_LEGACY = "https://www.developer.intuit.com/app/developer/qbo/docs/workflows/create-custom-fields"
ADDRESS_CHANGES_2025 = "https://developers.apideck.com/connectors/quickbooks/docs/application_owner+api_changes"
RUN_REPORTS = "https://developer.intuit.com/app/developer/qbo/docs/workflows/run-reports"


def cites(*urls: str) -> Callable[[F], F]:
    """Marks a conformance case with the pages it is written from (kept on the function as `sources`)."""
    def mark(fn: F) -> F:
        fn.sources = urls  # type: ignore[attr-defined]
        return fn
    return mark
