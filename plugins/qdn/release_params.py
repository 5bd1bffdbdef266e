"""The release's parameters, validated once, before anything is written.

The Params form already checks types in the UI, but a run triggered from the CLI or the REST API
can carry anything. The first task validates every field here and fails with one line per bad
field, so a typo in a price never leaves a published function behind a half-made release; every
other task re-reads the same validated model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import ValidationError

from qdn import config
from qdn.jobs.model import JobStatus, NewJob, describe_validation_error
from qdn.jobs.store import (
    IDEMPOTENCY_KEY_MAX,
    ORDER_KEY_PREFIX,
    InvalidJobInput,
    job_idempotency_key,
    order_reference_key,
)
from qdn.staging import BUILD_ID_RE

# Job fields in the form are flat, prefixed "job_", because Params forms have no nested objects.
JOB_PREFIX = "job_"
JOB_FIELDS = tuple(NewJob.model_fields)
JOB_DEFINING_FIELDS = ("customer_name", "location", "service_date", "price")


class ReleaseParamsError(ValueError):
    """One line per bad field, each naming it."""


@dataclass(frozen=True)
class ReleaseParams:
    build_id: str  # "" = builds/LATEST
    promote: bool
    dry_run: bool
    distributions: tuple[str, ...]
    job: NewJob | None
    order_reference: str = ""  # "" = the job's key is derived from its fields
    allow_duplicate_job: bool = False

    def job_key(self, run_key: str) -> str:
        """The job's idempotency key: the run's own when a duplicate is asked for (a retry of
        this run still finds its job, another run makes another), else one every run shares."""
        if self.job is None:
            raise ValueError("this release has no job, so it has no job key")
        if self.allow_duplicate_job:
            return run_key
        return job_idempotency_key(self.job, self.order_reference or None)

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ReleaseParams:
        errors: list[str] = []
        build_id = str(params.get("build_id") or "").strip()
        if build_id and not BUILD_ID_RE.match(build_id):
            errors.append(
                f"build_id: {build_id!r} is not a build id (build-<12 hex digits>); "
                "leave it empty to release builds/LATEST"
            )
        promote = params.get("promote", True)
        dry_run = params.get("dry_run", False)
        allow_duplicate = params.get("allow_duplicate_job", False)
        order_reference = str(params.get("order_reference") or "").strip()
        if order_reference:
            try:
                order_reference_key(order_reference)  # the key the job will get, checked now
            except InvalidJobInput:
                longest = IDEMPOTENCY_KEY_MAX - len(ORDER_KEY_PREFIX)
                errors.append(
                    f"order_reference: {order_reference!r} must be up to {longest} letters, "
                    "digits and _ . ~ : + / @ = - (no spaces); leave it empty to key the job on "
                    "its fields"
                )
        for name, value in (
            ("promote", promote),
            ("dry_run", dry_run),
            ("allow_duplicate_job", allow_duplicate),
        ):
            if not isinstance(value, bool):
                errors.append(f"{name}: must be true or false, got {value!r}")
        raw_dists = params.get("distributions") or list(config.DISTRIBUTION_ALIASES)
        if isinstance(raw_dists, str):
            raw_dists = [d.strip() for d in raw_dists.split(",") if d.strip()]
        unknown = [d for d in raw_dists if d not in config.DISTRIBUTION_ALIASES]
        if unknown or not raw_dists:
            errors.append(
                f"distributions: {unknown or raw_dists!r} not known; choose from "
                f"{', '.join(config.DISTRIBUTION_ALIASES)}"
            )

        job_values = {
            k[len(JOB_PREFIX) :]: v
            for k, v in params.items()
            if k.startswith(JOB_PREFIX) and v not in (None, "")
        }
        unknown_job = sorted(set(job_values) - set(JOB_FIELDS))
        if unknown_job:
            errors.append(
                f"{', '.join(JOB_PREFIX + u for u in unknown_job)}: not a job field; known: "
                f"{', '.join(JOB_PREFIX + f for f in JOB_FIELDS)}"
            )
        job = None
        # status and currency have defaults in the form, so only these say "there is a job".
        wants_job = any(k in job_values for k in JOB_DEFINING_FIELDS)
        if wants_job and not unknown_job:
            try:
                job = NewJob.model_validate(job_values)
            except ValidationError as exc:
                detail = describe_validation_error(exc, "job")
                errors.extend(
                    JOB_PREFIX + line.strip() for line in detail.splitlines()[1:] if line.strip()
                )
        if errors:
            raise ReleaseParamsError(
                "the release parameters are invalid; nothing was changed:\n  " + "\n  ".join(errors)
            )
        return cls(
            build_id=build_id,
            promote=bool(promote),
            dry_run=bool(dry_run),
            distributions=tuple(raw_dists),
            job=job,
            order_reference=order_reference,
            allow_duplicate_job=bool(allow_duplicate),
        )


def job_status_choices() -> list[str]:
    return [s.value for s in JobStatus if not s.is_terminal]


# What the Params form says under a field, beyond its name; form wording only, the fields
# themselves come from the model.
JOB_FORM_HINTS = {
    "customer_name": "Empty: no job",
    "location": "Street line",
    "price": "e.g. 600.00",
}
OPTIONAL_TEXT = ["null", "string"]


def idempotency_param_specs() -> dict[str, dict[str, Any]]:
    """The form's two fields that decide whether a trigger makes a new job (docs/jobs.md)."""
    return {
        "order_reference": {
            "default": None,
            "type": OPTIONAL_TEXT,
            "description": "The customer's order, e.g. ORD-1042: a re-trigger with it finds "
            "the same job. Empty: the job's fields identify it",
        },
        "allow_duplicate_job": {
            "default": False,
            "type": "boolean",
            "description": "Create a second job even if an identical one exists",
        },
    }


def job_param_specs() -> dict[str, dict[str, Any]]:
    """The Params form's job fields (``job_<field>`` -> ``Param`` arguments), one per field of
    :class:`NewJob`, so a field added to the model is in the form without another edit.

    Every field is optional text in the form (empty means "no job" for the defining ones);
    the model's defaults, the date format and the status choices carry over.
    """
    specs: dict[str, dict[str, Any]] = {}
    for name, info in NewJob.model_fields.items():
        spec: dict[str, Any] = {"default": None, "type": OPTIONAL_TEXT}
        if name == "status":
            spec = {"default": info.default.value, "type": "string", "enum": job_status_choices()}
        elif info.annotation is date:
            spec["format"] = "date"
        elif not info.is_required() and isinstance(info.default, str):
            spec = {"default": info.default, "type": "string"}
        if name in JOB_FORM_HINTS:
            spec["description"] = JOB_FORM_HINTS[name]
        specs[JOB_PREFIX + name] = spec
    return specs
