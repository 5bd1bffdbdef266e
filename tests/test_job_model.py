"""The job model: what jobs.json may hold, how a job may change, and what the public sees."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from handlers_support import PUBLIC_FIELDS
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from qdn.jobs import booking, model
from qdn.jobs.booking import BOOKING_MESSAGES, Booking, BookingRequest, booking_field_errors
from qdn.jobs.legacy_document import JobsDocument, JobsDocumentError
from qdn.jobs.model import (
    ALLOWED_TRANSITIONS,
    InvalidTransitionError,
    Job,
    JobStatus,
    NewJob,
    redact_token,
)

NOW = datetime(2025, 6, 1, 9, 30, tzinfo=UTC)
TODAY = NOW.date()


def _new(**changes: object) -> NewJob:
    data: dict[str, object] = {
        "customer_name": "Mark",
        "customer_phone": "+1 555 010 0199",
        "customer_email": "mark@example.com",
        "location": "Soderblom Ave",
        "city": "Springfield",
        "service_date": "2025-06-10",
        "price": "600",
        "status": "ready_for_pickup",
    }
    data.update(changes)
    return NewJob.model_validate(data)


def _job(**changes: object) -> Job:
    return Job.create(_new(**changes), now=NOW, idempotency_key=None)


# --- statuses -------------------------------------------------------------------------------------


def test_transitions_go_forward_cancel_until_the_end_and_stop_at_terminals() -> None:
    assert ALLOWED_TRANSITIONS[JobStatus.booked] == frozenset(JobStatus) - {JobStatus.booked}
    assert JobStatus.booked not in ALLOWED_TRANSITIONS[JobStatus.scheduled]
    assert ALLOWED_TRANSITIONS[JobStatus.picked_up] == {JobStatus.completed, JobStatus.cancelled}
    assert ALLOWED_TRANSITIONS[JobStatus.completed] == frozenset()
    assert ALLOWED_TRANSITIONS[JobStatus.cancelled] == frozenset()
    assert set(ALLOWED_TRANSITIONS) == set(JobStatus)


# --- creating -------------------------------------------------------------------------------------


def test_create_mints_an_id_a_token_and_a_first_history_entry() -> None:
    job = Job.create(_new(), now=NOW, idempotency_key="run-1")
    assert re.fullmatch(r"QDN-[A-Z2-7]{10}", job.id)
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", job.token)
    assert job.price == Decimal("600.00") and str(job.price) == "600.00"
    assert job.currency == "USD"
    assert job.status is JobStatus.ready_for_pickup
    assert job.created_at == job.updated_at == NOW
    assert [(c.status, c.at) for c in job.history] == [(JobStatus.ready_for_pickup, NOW)]
    assert job.idempotency_key == "run-1"
    assert job.token not in repr(job)
    other = Job.create(_new(), now=NOW, idempotency_key=None)
    assert (other.id, other.token) != (job.id, job.token)


def test_now_must_be_aware_and_is_stored_as_utc() -> None:
    with pytest.raises(ValueError, match="timezone"):
        Job.create(_new(), now=datetime(2025, 6, 1, 9, 30), idempotency_key=None)
    plus2 = datetime(2025, 6, 1, 11, 30, tzinfo=timezone(timedelta(hours=2)))
    job = Job.create(_new(), now=plus2, idempotency_key=None)
    assert job.created_at == NOW and job.created_at.tzinfo == UTC


@pytest.mark.parametrize(
    ("changes", "field", "why"),
    [
        ({"price": "-1"}, "price", "greater than or equal to 0"),
        ({"price": "600.123"}, "price", "2 decimal places"),
        ({"price": "NaN"}, "price", ""),
        ({"price": "abc"}, "price", "decimal"),
        ({"service_date": "2025-02-30"}, "service_date", "date"),
        ({"service_date": "next week"}, "service_date", "date"),
        ({"currency": "usd"}, "currency", "pattern"),
        ({"status": "completed"}, "status", "cannot start as completed"),
        ({"status": "lost"}, "status", "booked"),
        ({"customer_name": "  "}, "customer_name", "at least 1 character"),
        ({"customer_email": "not-an-email"}, "customer_email", "pattern"),
        ({"tip": "5"}, "tip", "Extra inputs are not permitted"),
    ],
)
def test_new_job_refusals_name_the_field_and_why(changes: dict, field: str, why: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _new(**changes)
    errors = caught.value.errors()
    assert [e["loc"] for e in errors] == [(field,)]
    assert why in errors[0]["msg"]


@pytest.mark.parametrize("field", ["customer_name", "location", "city", "notes"])
@pytest.mark.parametrize("char", ["\u0000", "\u0007", "\u001b", "\u007f", "\u0085", "\t", "\r"])
def test_names_and_free_text_refuse_control_characters(field: str, char: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _new(**{field: f"Mark{char}Soderblom"})
    errors = caught.value.errors()
    assert [e["loc"] for e in errors] == [(field,)]
    assert f"control character U+{ord(char):04X}" in errors[0]["msg"]


def test_a_note_keeps_its_line_breaks_and_names_keep_their_accents() -> None:
    job = _new(notes="gate code 4411\nleave by the garage", customer_name="Zoë Ångström")
    assert job.notes == "gate code 4411\nleave by the garage"
    assert job.customer_name == "Zoë Ångström"
    with pytest.raises(ValidationError, match=r"U\+000A"):
        _new(customer_name="Mark\nSmith")  # a line break is for notes only


def test_price_two_places_kept_exact() -> None:
    assert _job(price="0.1").price == Decimal("0.10")
    assert _job(price=Decimal("1234.5")).price == Decimal("1234.50")
    assert _job(price=0).price == Decimal("0.00")


# --- changing -------------------------------------------------------------------------------------


def test_transition_appends_history_and_moves_updated_at() -> None:
    job = _job(status="booked")
    later = NOW + timedelta(days=1)
    moved = job.transition(JobStatus.delivered, at=later, note="dropped at the curb")
    assert moved.status is JobStatus.delivered
    assert moved.updated_at == later and moved.created_at == NOW
    assert [c.status for c in moved.history] == [JobStatus.booked, JobStatus.delivered]
    assert moved.history[-1].note == "dropped at the curb"
    assert (moved.id, moved.token) == (job.id, job.token)
    assert job.status is JobStatus.booked  # the original is untouched


def test_impossible_transitions_say_from_to_and_what_is_allowed() -> None:
    job = _job(status="picked_up")
    with pytest.raises(InvalidTransitionError) as caught:
        job.transition(JobStatus.booked, at=NOW)
    message = str(caught.value)
    assert "from picked_up to booked" in message
    assert "completed, cancelled" in message
    done = job.transition(JobStatus.completed, at=NOW)
    with pytest.raises(InvalidTransitionError, match="completed is final"):
        done.transition(JobStatus.cancelled, at=NOW)
    with pytest.raises(InvalidTransitionError, match="earlier than its last change"):
        job.transition(JobStatus.completed, at=NOW - timedelta(seconds=1))


# --- public view ----------------------------------------------------------------------------------


def test_public_view_has_only_the_public_fields() -> None:
    job = _job().transition(JobStatus.picked_up, at=NOW + timedelta(hours=2))
    view = job.public_view()
    assert set(view) == PUBLIC_FIELDS
    assert view["reference"] == job.id
    assert view["status"] == "picked_up" and view["status_label"] == "Picked up"
    assert view["service_date"] == "2025-06-10"
    assert view["location"] == "Soderblom Ave"
    assert view["customer_name"] == "Mark"
    assert view["updated_at"] == "2025-06-01T11:30:00Z"
    assert view["history"] == [
        {"status": "ready_for_pickup", "label": "Ready for pickup", "at": "2025-06-01T09:30:00Z"},
        {"status": "picked_up", "label": "Picked up", "at": "2025-06-01T11:30:00Z"},
    ]
    text = json.dumps(view)
    for secret in (job.token, "555", "mark@example.com", "600", "Springfield"):
        assert secret not in text


def test_redact_token_keeps_four_characters() -> None:
    assert redact_token("abcdefghijklmnopqrstuvwxyz012345") == "abcd…"


# --- the document ---------------------------------------------------------------------------------


def test_document_round_trips_and_finds_by_token_and_key() -> None:
    first = Job.create(_new(), now=NOW, idempotency_key="run-1")
    second = Job.create(_new(customer_name="Ana"), now=NOW, idempotency_key=None)
    doc = JobsDocument().with_job(first).with_job(second)
    raw = doc.to_json_bytes()
    stored = json.loads(raw)
    assert stored["schema_version"] == 1
    assert stored["jobs"][0]["price"] == "600.00"
    assert stored["jobs"][0]["created_at"] == "2025-06-01T09:30:00Z"
    again = JobsDocument.from_json_bytes(raw)
    assert again == doc
    assert again.find_by_token(second.token) == second
    assert (
        again.find_by_token(second.token[:-1] + ("A" if second.token[-1] != "A" else "B")) is None
    )
    assert again.find_by_token("") is None
    assert again.find_by_idempotency_key("run-1") == first
    assert again.find_by_idempotency_key("run-2") is None


def test_with_job_replaces_by_id() -> None:
    job = _job(status="booked")
    doc = JobsDocument().with_job(job)
    moved = job.transition(JobStatus.scheduled, at=NOW)
    doc2 = doc.with_job(moved)
    assert len(doc2.jobs) == 1
    assert doc2.find_by_token(job.token).status is JobStatus.scheduled
    assert doc.find_by_token(job.token).status is JobStatus.booked


def test_duplicate_ids_tokens_and_keys_are_refused_without_printing_the_token() -> None:
    job = _job()
    twin = job.model_copy(update={"id": "QDN-AAAAAAAAAA"})
    with pytest.raises(JobsDocumentError) as caught:
        JobsDocument().with_job(job).with_job(twin)
    assert "same token" in str(caught.value)
    assert job.token not in str(caught.value)
    raw = json.loads(JobsDocument(jobs=[job]).to_json_bytes())
    raw["jobs"].append(dict(raw["jobs"][0], token="B" * 32))
    with pytest.raises(JobsDocumentError, match=r"jobs\[1\]\.id"):
        JobsDocument.from_json_bytes(json.dumps(raw).encode())


def _stored(**changes: object) -> bytes:
    raw = json.loads(JobsDocument(jobs=[_job()]).to_json_bytes())
    raw["jobs"][0].update(changes)
    return json.dumps(raw).encode()


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (_stored(price="-5.00"), "jobs[0].price: Input should be greater than or equal to 0"),
        (_stored(price="5.001"), "jobs[0].price: Decimal input should have no more than 2 decimal"),
        (_stored(service_date="2025-13-01"), "jobs[0].service_date"),
        (_stored(created_at="2025-06-01T09:30:00"), "jobs[0].created_at: must include a timezone"),
        (_stored(secret="x"), "jobs[0].secret: Extra inputs are not permitted"),
        (_stored(token="short"), "jobs[0].token"),
        (_stored(id="QDN-lower"), "jobs[0].id"),
        (_stored(status="completed"), "jobs[0]: status is completed but the last history entry"),
        (
            _stored(
                status="booked",
                history=[
                    {"status": "delivered", "at": "2025-06-01T09:30:00Z"},
                    {"status": "booked", "at": "2025-06-01T09:31:00Z"},
                ],
            ),
            "jobs[0]: history[1]: impossible transition delivered -> booked",
        ),
        (b'{"schema_version": 2, "jobs": []}', "schema_version"),
        (b"{not json", "Invalid JSON"),
        (b'{"jobs": [], "extra": 1}', "extra: Extra inputs"),
    ],
)
def test_bad_documents_are_refused_with_the_field_path(data: bytes, fragment: str) -> None:
    with pytest.raises(JobsDocumentError) as caught:
        JobsDocument.from_json_bytes(data)
    message = str(caught.value)
    assert fragment in message, message


# --- bookings -------------------------------------------------------------------------------------


def _booking(**changes: object) -> dict:
    data: dict[str, object] = {
        "name": "  Ana Lopez ",
        "phone": "+1 (555) 010-0199",
        "email": "",
        "address": "12 Soderblom Ave",
        "service_date": (TODAY + timedelta(days=3)).isoformat(),
        "dumpster_size": "20",
        "notes": "Gate code 1234",
    }
    data.update(changes)
    return data


def _validate(data: dict) -> BookingRequest:
    return BookingRequest.model_validate(data, context={"today": TODAY})


def _field_errors(data: dict) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        _validate(data)
    return booking_field_errors(caught.value)


def test_valid_booking_is_normalized() -> None:
    request = _validate(_booking())
    assert request.name == "Ana Lopez"
    assert request.phone == "+15550100199"
    assert request.email is None
    assert request.service_date == TODAY + timedelta(days=3)
    stored = Booking.create(request, now=NOW)
    assert re.fullmatch(r"BK-[A-Z2-7]{16}", stored.id)
    assert json.loads(stored.to_json_bytes())["received_at"] == "2025-06-01T09:30:00Z"


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("name", ""),
        ("name", "   "),
        ("name", "x" * 101),
        ("name", 5),
        ("phone", "123456"),
        ("phone", "1234567890123456"),
        ("phone", "++15550100199"),
        ("phone", "555-CALL-NOW"),
        ("phone", "١٢٣٤٥٦٧٨"),  # digits, but not the ones the dispatcher dials
        ("email", "no-at-sign"),
        ("email", "a@b"),
        ("email", "a b@c.d"),
        ("email", "a@" + "b" * 250 + ".com"),
        ("address", "1 A"),
        ("address", "x" * 201),
        ("service_date", (TODAY - timedelta(days=1)).isoformat()),
        ("service_date", (TODAY + timedelta(days=366)).isoformat()),
        ("service_date", "2025-02-30"),
        ("service_date", "06/10/2025"),
        ("service_date", 1750000000),
        ("dumpster_size", "25"),
        ("dumpster_size", 20),
        ("notes", "x" * 501),
    ],
)
def test_each_booking_rule_gives_its_exact_message(field: str, bad: object) -> None:
    assert _field_errors(_booking(**{field: bad})) == {field: BOOKING_MESSAGES[field]}


@pytest.mark.parametrize("field", ["name", "email", "address", "notes"])
@pytest.mark.parametrize("char", ["\u0000", "\u0007", "\u001b", "\u007f", "\u0085", "\t", "\r"])
def test_booking_text_refuses_control_characters_with_the_fields_message(
    field: str, char: str
) -> None:
    value = {"email": f"ana{char}@example.com"}.get(field, f"Ana{char}Lopez Soderblom")
    assert _field_errors(_booking(**{field: value})) == {field: BOOKING_MESSAGES[field]}


def test_booking_notes_keep_their_line_breaks_and_only_them() -> None:
    note = "Gate code 1234\nleft side"
    assert _validate(_booking(notes=note)).notes == note
    for field in ("name", "address"):
        errors = _field_errors(_booking(**{field: "Ana\nLopez St"}))
        assert errors == {field: BOOKING_MESSAGES[field]}


def test_booking_limits_are_the_job_models() -> None:
    assert booking.NAME_MAX == model.NAME_MAX_LENGTH
    assert booking.NOTES_MAX == model.NOTES_MAX_LENGTH
    assert booking.EMAIL_MAX == model.EMAIL_MAX_LENGTH
    assert booking.ADDRESS_MAX == model.STREET_MAX_LENGTH
    assert booking._EMAIL.pattern == model.EMAIL_PATTERN
    # The form's own floor may only be stricter: a booked address is always a valid job street.
    assert booking.ADDRESS_MIN >= model.STREET_MIN_LENGTH
    # The messages state the numbers the rules apply.
    address = f"{booking.ADDRESS_MIN} to {booking.ADDRESS_MAX} characters"
    assert address in BOOKING_MESSAGES["address"]
    assert f"under {model.NOTES_MAX_LENGTH} characters" in BOOKING_MESSAGES["notes"]
    digits = f"{booking.PHONE_DIGITS_MIN} to {booking.PHONE_DIGITS_MAX} digits"
    assert digits in BOOKING_MESSAGES["phone"]


@pytest.mark.parametrize("address_length", [booking.ADDRESS_MIN, booking.ADDRESS_MAX])
def test_a_booking_at_its_limits_makes_a_valid_job(address_length: int) -> None:
    request = _validate(
        _booking(
            name="n" * booking.NAME_MAX,
            address="a" * address_length,
            notes="x" * (booking.NOTES_MAX - 2) + "\ny",
        )
    )
    job = _new(customer_name=request.name, location=request.address, notes=request.notes)
    assert (job.customer_name, job.location, job.notes) == (
        request.name,
        request.address,
        request.notes,
    )


@pytest.mark.parametrize("allowed", ["", model.NOTES_ALLOWED_CONTROL])
def test_control_character_problem_is_the_models_rule(allowed: str) -> None:
    assert model.control_character_problem("Zoë Ångström, 12 Main St", allowed) is None
    problem = model.control_character_problem("Mark\u0000", allowed)
    assert problem is not None and "U+0000" in problem
    field = "notes" if allowed else "customer_name"  # the model's field with this rule
    with pytest.raises(ValidationError, match=re.escape(problem)):
        _new(**{field: "Mark\u0000"})
    newline = model.control_character_problem("a\nb", allowed)
    assert (newline is None) == (allowed == "\n")


def test_booking_edges_that_pass() -> None:
    assert _validate(_booking(phone="555.0100")).phone == "5550100"
    assert _validate(_booking(phone="+123456789012345")).phone == "+123456789012345"
    assert _validate(_booking(service_date=TODAY.isoformat())).service_date == TODAY
    far = (TODAY + timedelta(days=365)).isoformat()
    assert _validate(_booking(service_date=far)).service_date == date.fromisoformat(far)
    assert _validate(_booking(notes="x" * 500)).notes == "x" * 500
    assert _validate(_booking(email=None, notes=None)).email is None
    assert _validate(_booking(address="1 A St")).address == "1 A St"


def test_missing_and_unknown_fields() -> None:
    errors = _field_errors({"notes": "hi", "price": "0"})
    assert errors == {
        "name": BOOKING_MESSAGES["name"],
        "phone": BOOKING_MESSAGES["phone"],
        "address": BOOKING_MESSAGES["address"],
        "service_date": BOOKING_MESSAGES["service_date"],
        "dumpster_size": BOOKING_MESSAGES["dumpster_size"],
        "price": "This field is not part of the booking form.",
    }


@given(st.dictionaries(st.text(max_size=20), st.none() | st.text() | st.integers(), max_size=9))
def test_any_booking_input_validates_or_gives_field_messages(data: dict) -> None:
    try:
        _validate(data)
    except ValidationError as exc:
        errors = booking_field_errors(exc)
        assert errors
        assert all(isinstance(v, str) and v for v in errors.values())


def test_document_is_compact_with_one_job_per_line() -> None:
    jobs = [_job(), _job(customer_name="Ana"), _job(customer_name="Bo")]
    raw = JobsDocument(jobs=jobs).to_json_bytes()
    lines = raw.decode().splitlines()
    assert lines[0] == '{"schema_version":1,"jobs":['
    assert lines[-1] == "]}"
    assert [json.loads(line.rstrip(","))["id"] for line in lines[1:-1]] == [j.id for j in jobs]
    assert json.loads(raw) == json.loads(JobsDocument(jobs=jobs).model_dump_json())
    assert JobsDocument.from_json_bytes(JobsDocument().to_json_bytes()) == JobsDocument()


def test_the_release_form_names_the_job_field_with_a_control_character() -> None:
    from qdn.release_params import ReleaseParams, ReleaseParamsError

    params = {
        "job_customer_name": "Mark\u0000\u0007",
        "job_location": "Soderblom Ave",
        "job_service_date": "2025-06-10",
        "job_price": "600.00",
    }
    with pytest.raises(ReleaseParamsError) as caught:
        ReleaseParams.from_params(params)
    assert "job_customer_name: contains the control character U+0000" in str(caught.value)
    assert "nothing was changed" in str(caught.value)


def test_the_release_form_has_one_field_per_model_field() -> None:
    from qdn.release_params import JOB_FORM_HINTS, JOB_PREFIX, job_param_specs

    specs = job_param_specs()
    assert set(specs) == {JOB_PREFIX + name for name in NewJob.model_fields}
    assert set(JOB_FORM_HINTS) <= set(NewJob.model_fields)  # no hint for a field that is gone
    assert specs["job_service_date"]["format"] == "date"
    assert specs["job_status"]["default"] == NewJob.model_fields["status"].default.value
    assert "completed" not in specs["job_status"]["enum"]  # a new job never starts finished
