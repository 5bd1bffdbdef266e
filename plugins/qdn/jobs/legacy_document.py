"""The legacy ``jobs.json``: every job in one document, as the old store kept them.

Only two things still read one: the migration (``qdn.jobs.migration``), which moves it to one
record per job, and the track API, which looks a token up in it while a bucket is not migrated
yet. Nothing writes one any more; ``data/jobs.json`` becomes the derived export.

Kept out of :mod:`qdn.jobs.model` so the track API's cold start does not build this model.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Literal

from pydantic import Field, PrivateAttr, ValidationError, model_validator

from qdn.jobs.model import Job, _Strict, describe_validation_error, redact_token

__all__ = ["JobsDocument", "JobsDocumentError"]


class JobsDocumentError(ValueError):
    """``jobs.json`` (or a job in it) does not validate; the message names each field and why."""


def _token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class JobsDocument(_Strict):
    """``data/jobs.json``: a schema version and the jobs. Treat as immutable; use :meth:`with_job`.

    Lookups are indexed when the document is built, so the track API's warm path is one dict
    lookup plus one constant-time comparison, even with a hundred thousand jobs.
    """

    schema_version: Literal[1] = 1
    jobs: list[Job] = Field(default_factory=list)

    _by_token_digest: dict[bytes, Job] = PrivateAttr(default_factory=dict)
    _by_idempotency_key: dict[str, Job] = PrivateAttr(default_factory=dict)
    _position_by_id: dict[str, int] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _unique_and_indexed(self) -> JobsDocument:
        by_digest: dict[bytes, Job] = {}
        by_key: dict[str, Job] = {}
        positions: dict[str, int] = {}
        for index, job in enumerate(self.jobs):
            if job.id in positions:
                raise ValueError(f"jobs[{index}].id: {job.id} is also jobs[{positions[job.id]}]")
            positions[job.id] = index
            digest = _token_digest(job.token)
            if digest in by_digest:
                # Never print the token itself, not even here.
                raise ValueError(
                    f"jobs[{index}].token: same token as job {by_digest[digest].id} "
                    f"({redact_token(job.token)})"
                )
            by_digest[digest] = job
            if job.idempotency_key is not None:
                if job.idempotency_key in by_key:
                    raise ValueError(
                        f"jobs[{index}].idempotency_key: also used by job "
                        f"{by_key[job.idempotency_key].id}"
                    )
                by_key[job.idempotency_key] = job
        self._by_token_digest = by_digest
        self._by_idempotency_key = by_key
        self._position_by_id = positions
        return self

    def find_by_token(self, token: str) -> Job | None:
        """The job this token tracks, or None.

        The index is keyed by the token's SHA-256: a timing difference in the dict lookup can only
        reveal something about a hash, not about a token. The candidate is then confirmed with a
        constant-time comparison.
        """
        candidate = self._by_token_digest.get(_token_digest(token))
        if candidate is not None and hmac.compare_digest(
            candidate.token.encode("utf-8"), token.encode("utf-8")
        ):
            return candidate
        return None

    def find_by_idempotency_key(self, key: str) -> Job | None:
        return self._by_idempotency_key.get(key)

    def find_by_id(self, job_id: str) -> Job | None:
        position = self._position_by_id.get(job_id)
        return None if position is None else self.jobs[position]

    def with_job(self, job: Job) -> JobsDocument:
        """A new document with ``job`` added, or replacing the job with the same id."""
        jobs = list(self.jobs)
        position = self._position_by_id.get(job.id)
        if position is None:
            jobs.append(job)
        else:
            jobs[position] = job
        try:
            return JobsDocument(schema_version=self.schema_version, jobs=jobs)
        except ValidationError as exc:
            raise JobsDocumentError(describe_validation_error(exc, "jobs.json")) from None

    def to_json_bytes(self) -> bytes:
        """Compact JSON with one job per line.

        A line per job keeps the file readable and diffable (``aws s3 cp ... - | grep QDN-...``)
        while staying a third smaller and faster to parse than indented JSON, which matters
        with a hundred thousand jobs: the track API parses the whole file on a cold start.
        """
        head = f'{{"schema_version":{self.schema_version},"jobs":['
        if not self.jobs:
            return (head + "]}\n").encode("utf-8")
        lines = ",\n".join(job.model_dump_json() for job in self.jobs)
        return (head + "\n" + lines + "\n]}\n").encode("utf-8")

    @classmethod
    def from_json_bytes(cls, data: bytes) -> JobsDocument:
        """Parse and validate ``jobs.json``; every problem is reported with its field path."""
        try:
            return cls.model_validate_json(data)
        except ValidationError as exc:
            raise JobsDocumentError(describe_validation_error(exc, "jobs.json")) from None
