"""Thirty hand-made failure cases of one company's LLM applications, with triage results.

The triage results are written by hand (the engine is tested elsewhere); they carry the evidence
strings, confidences and review flags a real engine run would give.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from app.cases.schemas import KNOWLEDGE_SUBCATEGORIES, FailureCase
from app.triage.result import TriageResult

ENGINE = "triage-0.3.1"

# (subcategory, confidence, needs_review, evidence, case fields)
RAW: list[tuple[str, float, bool, list[str], dict[str, Any]]] = [
    (
        "missing_knowledge",
        0.91,
        False,
        [
            "expected answer cites an internal policy the output does not know",
            "no context was supplied",
        ],
        {
            "input": "Are contractors eligible for paid parental leave?",
            "output": "Yes, most companies offer paid parental leave to all workers, including "
            "contractors, typically 12 weeks.",
            "expected": "No. Under policy HR-114 contractors are not eligible; they can take "
            "unpaid leave agreed with their agency.",
            "source": "support_ticket",
            "metadata": {"app": "people-helpdesk"},
        },
    ),
    (
        "missing_knowledge",
        0.88,
        False,
        [
            "expected answer states product-catalogue facts the output lacks",
            "no context was supplied",
        ],
        {
            "input": "Which plans include single sign-on?",
            "output": "All of our plans include single sign-on (SSO) at no extra cost.",
            "expected": "SSO (SAML and OIDC) is included in the Enterprise plan only.",
            "source": "thumbs_down",
            "metadata": {"app": "sales-assistant"},
        },
    ),
    (
        "missing_knowledge",
        0.84,
        False,
        [
            "expected answer cites an internal SLA the output does not know",
            "no context was supplied",
        ],
        {
            "input": "What is the response time for a P1 incident on the Business tier?",
            "output": "P1 incidents are usually answered within 24 hours.",
            "expected": "Business tier P1: first response within 1 hour, 24/7.",
            "source": "qa_review",
            "metadata": {"app": "support-copilot"},
        },
    ),
    (
        "missing_knowledge",
        0.79,
        False,
        ["output guesses the meaning of an internal error code", "no context was supplied"],
        {
            "input": "What does error E-4012 mean in the billing sync?",
            "output": "E-4012 is a generic network timeout; retry the request later.",
            "expected": "E-4012: the customer's VAT number failed validation in the tax "
            "service; ask the customer to correct it in Billing settings.",
            "source": "support_ticket",
            "metadata": {"app": "support-copilot"},
        },
    ),
    (
        "stale_knowledge",
        0.93,
        False,
        [
            "feedback says the fact changed ('price changed in March')",
            "output states a dated fact (a price)",
        ],
        {
            "input": "How much is the Pro plan per month?",
            "output": "The Pro plan costs $29 per user per month.",
            "expected": "The Pro plan costs $35 per user per month (since 1 March 2024).",
            "feedback": "price changed in March",
            "source": "support_ticket",
            "metadata": {"app": "sales-assistant", "date": "2024-04-02"},
        },
    ),
    (
        "stale_knowledge",
        0.86,
        False,
        [
            "output names a person in a role that has changed",
            "feedback says the information is outdated",
        ],
        {
            "input": "Who leads customer success?",
            "output": "Maria Lopez is our VP of Customer Success.",
            "expected": "Dev Patel has led Customer Success since January 2024.",
            "feedback": "outdated: Maria left last year",
            "source": "qa_review",
            "metadata": {"app": "people-helpdesk"},
        },
    ),
    (
        "stale_knowledge",
        0.82,
        False,
        ["output states a dated fact (supported versions)", "expected answer gives newer versions"],
        {
            "input": "Which Python versions does the SDK support?",
            "output": "The SDK supports Python 3.7 to 3.10.",
            "expected": "SDK 5.x supports Python 3.9 to 3.12; 3.8 support ended in October 2024.",
            "source": "eval_run",
            "metadata": {"app": "dev-docs-bot"},
        },
    ),
    (
        "retrieval_gap",
        0.74,
        False,
        [
            "context was supplied but covers a different product",
            "expected fact is absent from the context",
        ],
        {
            "input": "How long is the warranty on the Breva espresso machine?",
            "output": "The Breva comes with a 1-year manufacturer's warranty.",
            "expected": "The Breva Espresso Pro has a 2-year warranty, 3 years if registered "
            "within 30 days.",
            "context": [
                "[Breva Burr Grinder - Warranty] The grinder comes with a 1-year warranty."
            ],
            "attempted": ["rag"],
            "source": "eval_run",
            "metadata": {"app": "shop-assistant"},
        },
    ),
    (
        "retrieval_gap",
        0.58,
        True,
        [
            "context was supplied but covers monthly plans only",
            "expected fact is absent from the context",
        ],
        {
            "input": "What is the refund window for annual plans?",
            "output": "You can get a refund within 14 days of purchase.",
            "expected": "Annual plans can be refunded pro rata within 30 days.",
            "context": ["Monthly plans can be cancelled at any time; refunds within 14 days."],
            "attempted": ["rag"],
            "source": "support_ticket",
            "metadata": {"app": "support-copilot"},
        },
    ),
    (
        "format",
        0.95,
        False,
        [
            "output fails the JSON schema (camelCase keys instead of snake_case)",
            "content matches the expected answer; only the structure differs",
            "prompting already attempted",
        ],
        {
            "input": "Return the customer record as JSON matching schema v3 (snake_case keys).",
            "output": '{"customerName": "Tomás Ruiz", "accountId": "ACC-55120"}',
            "expected": '{"customer_name": "Tomás Ruiz", "account_id": "ACC-55120"}',
            "attempted": ["prompting"],
            "source": "eval_run",
            "metadata": {"app": "crm-sync-pipeline", "validator": "jsonschema"},
        },
    ),
    (
        "format",
        0.9,
        False,
        [
            "output exceeds the stated length limit (160 characters)",
            "content matches the expected answer; only the structure differs",
        ],
        {
            "input": "Write the SMS reminder for Dr Han, Tue 14 May 10:40. Must fit in one SMS.",
            "output": "Hello! This is a friendly reminder from Riverside Medical Centre that you "
            "have an appointment with Dr Han on Tuesday 14 May at 10:40. Please arrive 10 "
            "minutes early. If you need to cancel, please call us. Thank you!",
            "expected": "Riverside Medical: appt with Dr Han Tue 14 May 10:40. Arrive 10 min "
            "early. To cancel call 01632 960441.",
            "source": "qa_review",
            "metadata": {"app": "patient-frontdesk", "channel": "sms"},
        },
    ),
    (
        "format",
        0.92,
        False,
        [
            "reply language differs from the user's language (asked in German)",
            "prompting already attempted",
        ],
        {
            "input": "Wie ändere ich meine Rechnungsadresse?",
            "output": "You can change your billing address under Settings > Billing.",
            "expected": "Unter Einstellungen > Abrechnung können Sie Ihre Rechnungsadresse ändern.",
            "attempted": ["prompting"],
            "source": "thumbs_down",
            "metadata": {"app": "support-copilot", "locale": "de-DE"},
        },
    ),
    (
        "format",
        0.87,
        False,
        ["required sections missing (Summary, Next steps)", "prompting already attempted"],
        {
            "input": "Summarise ticket #88412 for the handover.",
            "output": "The customer had trouble with exports and we tried a few things.",
            "expected": "Summary: CSV exports time out above 50k rows.\nNext steps: engineering "
            "to raise the limit; agent to follow up Friday.",
            "attempted": ["prompting"],
            "source": "qa_review",
            "metadata": {"app": "support-copilot"},
        },
    ),
    (
        "format",
        0.89,
        False,
        [
            "output is a Markdown table where CSV was required",
            "content matches the expected answer; only the structure differs",
            "prompting already attempted",
        ],
        {
            "input": "Export the three largest invoices as CSV with header id,amount.",
            "output": "| id | amount |\n|---|---|\n| INV-9 | 1200 |",
            "expected": "id,amount\nINV-9,1200",
            "attempted": ["prompting"],
            "source": "eval_run",
            "metadata": {"app": "finance-assistant"},
        },
    ),
    (
        "format",
        0.81,
        False,
        ["date format differs from the required ISO 8601"],
        {
            "input": "When does contract C-1201 renew? Answer with the date only.",
            "output": "07/01/2025",
            "expected": "2025-07-01",
            "source": "eval_run",
            "metadata": {"app": "finance-assistant"},
        },
    ),
    (
        "style",
        0.9,
        False,
        [
            "tone violates the style guide (repeated apologies)",
            "content matches the expected answer",
        ],
        {
            "input": "can i add a bag to my booking",
            "output": "I'm so sorry for any inconvenience! I sincerely apologise... Yes, you can "
            "add a checked bag in Manage booking from €35. Again, my deepest apologies!",
            "expected": "Yes. Go to Manage booking > Extras and add a checked bag from €35.",
            "source": "log_sampling",
            "metadata": {"app": "nordair-booking-assistant"},
        },
    ),
    (
        "style",
        0.83,
        False,
        ["answer is far longer than the expected answer", "content matches the expected answer"],
        {
            "input": "Tooltip text for the 'Archive' button.",
            "output": "Archiving a project moves it out of your active list. Archived projects "
            "can be restored at any time from the Archive view, and their data is kept...",
            "expected": "Move this project out of your active list. You can restore it later.",
            "source": "qa_review",
            "metadata": {"app": "product-copy"},
        },
    ),
    (
        "style",
        0.86,
        False,
        ["register too casual for the audience (law-firm client)", "prompting already attempted"],
        {
            "input": "Draft a reply confirming we received the signed engagement letter.",
            "output": "Hey there! 👋 Got your letter, awesome stuff — we're all set!",
            "expected": "Dear Ms Okafor, thank you for returning the signed engagement letter. "
            "We will be in touch this week with next steps.",
            "attempted": ["prompting"],
            "source": "qa_review",
            "metadata": {"app": "client-mail-drafts"},
        },
    ),
    (
        "style",
        0.78,
        False,
        ["reading level above the target (plain English for patients)"],
        {
            "input": "Explain what a fasting blood test is for the patient leaflet.",
            "output": "A fasting plasma glucose assay quantifies glycaemic status following "
            "an 8-12 hour period of caloric abstinence.",
            "expected": "Don't eat for 8 to 12 hours before the test. It measures your blood "
            "sugar.",
            "source": "qa_review",
            "metadata": {"app": "patient-frontdesk"},
        },
    ),
    (
        "procedure",
        0.94,
        False,
        [
            "required escalation missing (chest pain must go to a clinician)",
            "prompting already attempted",
        ],
        {
            "input": "I've had chest pain since this morning, can I book a GP slot next week?",
            "output": "Sure! The next available GP slot is Tuesday at 9:20. Shall I book it?",
            "expected": "Chest pain needs urgent attention: call 999 now. I'm also alerting "
            "our duty clinician.",
            "attempted": ["prompting"],
            "source": "qa_review",
            "metadata": {"app": "patient-frontdesk", "policy": "triage-red-flags"},
        },
    ),
    (
        "procedure",
        0.88,
        False,
        [
            "policy step skipped (refunds over €500 need manager approval)",
            "prompting already attempted",
        ],
        {
            "input": "Please refund order 77120 (€740), the item arrived broken.",
            "output": "Done! I've refunded €740 to your card.",
            "expected": "I've asked a manager to approve the €740 refund; you'll hear back "
            "within one working day.",
            "attempted": ["prompting"],
            "source": "support_ticket",
            "metadata": {"app": "support-copilot"},
        },
    ),
    (
        "procedure",
        0.61,
        True,
        ["ambiguous request answered without a clarifying question"],
        {
            "input": "Where is my order?",
            "output": "Your order 55102 was delivered yesterday.",
            "expected": "You have two open orders (55102 and 55230). Which one do you mean?",
            "source": "thumbs_down",
            "metadata": {"app": "shop-assistant"},
        },
    ),
    (
        "procedure",
        0.85,
        False,
        ["required identity check skipped before an account change"],
        {
            "input": "Change the email on my account to j.doe@newmail.com",
            "output": "Done, your account email is now j.doe@newmail.com.",
            "expected": "To protect your account I've sent a code to your current email; "
            "reply with it and I'll make the change.",
            "source": "qa_review",
            "metadata": {"app": "support-copilot"},
        },
    ),
    (
        "grounding",
        0.9,
        False,
        ["context holds the answer (30 days) and the output contradicts it"],
        {
            "input": "How long do I have to return shoes?",
            "output": "You can return shoes within 14 days.",
            "expected": "You can return shoes within 30 days if unworn.",
            "context": ["Returns: footwear may be returned within 30 days if unworn."],
            "source": "eval_run",
            "metadata": {"app": "shop-assistant"},
        },
    ),
    (
        "grounding",
        0.64,
        True,
        ["context marks the feature deprecated; the output recommends it"],
        {
            "input": "How do I export to the legacy XML format?",
            "output": "Use Export > Legacy XML; it is the recommended format for integrations.",
            "expected": "Legacy XML export is deprecated and will be removed in June; use the "
            "JSON export instead.",
            "context": ["Legacy XML export is deprecated (removal: June). Use JSON export."],
            "source": "eval_run",
            "metadata": {"app": "dev-docs-bot"},
        },
    ),
    (
        "grounding",
        0.87,
        False,
        ["tool result holds the answer and the output contradicts it"],
        {
            "input": "What's my current balance?",
            "output": "Your balance is €0.00.",
            "expected": "Your balance is €112.40.",
            "context": ['tool:get_balance -> {"balance_eur": 112.40}'],
            "source": "support_ticket",
            "metadata": {"app": "finance-assistant"},
        },
    ),
    (
        "preference",
        0.89,
        False,
        [
            "pairwise signal: variant B preferred in an A/B test",
            "both answers are correct and well formed",
        ],
        {
            "input": "Suggest a subject line for the spring sale email.",
            "output": "Spring Sale Now On",
            "expected": "Spring into savings: 25% off everything this week",
            "source": "ab_test",
            "metadata": {"app": "marketing-copy", "win_rate_b": 0.63},
        },
    ),
    (
        "preference",
        0.84,
        False,
        [
            "pairwise signal: reviewers chose the other draft",
            "both answers are correct and well formed",
        ],
        {
            "input": "Write the release-note line for the new CSV importer.",
            "output": "A CSV importer has been added.",
            "expected": "Import contacts from any CSV file, with column matching and a preview.",
            "source": "ab_test",
            "metadata": {"app": "product-copy"},
        },
    ),
    (
        "preference",
        0.8,
        False,
        [
            "thumbs-down on an acceptable answer; users prefer the expected one",
            "both answers are correct and well formed",
        ],
        {
            "input": "How do I reset my password?",
            "output": "You can reset your password from the login page by clicking the link.",
            "expected": "On the login page, click 'Forgot password', enter your email and "
            "follow the link we send (valid for 30 minutes).",
            "source": "thumbs_down",
            "metadata": {"app": "support-copilot"},
        },
    ),
    (
        "preference",
        0.77,
        False,
        ["pairwise signal: variant B preferred in an A/B test"],
        {
            "input": "Greet a returning customer in the chat widget.",
            "output": "Hello. How can I help you?",
            "expected": "Welcome back, Sam! Want to pick up where you left off with your order?",
            "source": "ab_test",
            "metadata": {"app": "shop-assistant", "win_rate_b": 0.58},
        },
    ),
]

Pair = tuple[FailureCase, TriageResult]


def build_pair(
    subcategory: str, confidence: float, needs_review: bool, evidence: list[str], fields: dict
) -> Pair:
    category = "knowledge" if subcategory in KNOWLEDGE_SUBCATEGORIES else "behavior"
    case = FailureCase(**fields)
    if category == "knowledge":
        fix = "rag"
    elif subcategory == "preference":
        fix = "dpo"
    else:
        fix = "lora" if "prompting" in case.attempted else "prompting"
    others = 1.0 - confidence
    result = TriageResult(
        category=category,
        subcategory=subcategory,
        fix=fix,
        confidence=confidence,
        evidence=evidence,
        needs_review=needs_review,
        probabilities={subcategory: confidence, "other": round(others, 3)},
        engine_version=ENGINE,
    )
    return case, result


ALL_PAIRS: list[Pair] = [build_pair(*row) for row in RAW]


def split(pairs: Iterable[Pair]) -> tuple[list[FailureCase], list[TriageResult]]:
    pairs = list(pairs)
    return [c for c, _ in pairs], [r for _, r in pairs]


def pairs_with(pairs: Iterable[Pair], *subcategories: str) -> list[Pair]:
    """The pairs of the given subcategories, in corpus order."""
    return [p for p in pairs if p[1].subcategory in subcategories]
