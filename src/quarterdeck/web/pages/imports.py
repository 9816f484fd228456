"""Imports: upload a CRM export (a CSV file, or a ZIP of CSV files such as Salesforce's
data export), import it in the background with its progress on the page, then its summary
and rejected rows; the history of imports.

An upload is refused before it is read when it is larger than ``MAX_UPLOAD`` or not a
.csv or .zip file (an Excel workbook is refused with how to save it as CSV). It is kept in
a folder of its own beside the database, named as the user named it (the importer
recognises exports by their file names), and imported all or nothing like
``quarterdeck import``. A ZIP is unpacked there first, with limits (``unpack``).
"""

from __future__ import annotations

import csv
import re
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, UploadFile
from starlette.responses import RedirectResponse, Response

from quarterdeck.errors import InputError, NotFound, RejectsExceeded
from quarterdeck.web.context import Asker, asker, render, writer
from quarterdeck.web.jobs import Job
from quarterdeck.web.models import ImportsOut, JobOut, import_out
from quarterdeck.web.security import csv_text

__all__ = ["MAX_UPLOAD", "router"]

router = APIRouter()

MAX_UPLOAD = 50 * 1024 * 1024
"""The largest upload accepted, in bytes (50 MB)."""

SUFFIXES = (".csv", ".zip")
ZIP_MAGIC = b"PK\x03\x04"
MAX_UNPACKED = 1024 * 1024 * 1024
"""The most a ZIP upload may unpack to, in bytes (1 GB), whatever its entries claim."""
MAX_ENTRIES = 200
"""The most CSV files a ZIP upload may hold."""
MAX_REJECT_ROWS = 1000


def _history(who: Asker) -> Any:
    return who.read("imports", None, lambda ws: ws.imports())


def job_out(job: Job) -> JobOut:
    result = job.result
    return JobOut(
        job_id=job.job_id,
        state=job.state,
        step=job.step,
        fraction=job.fraction,
        message=_message(job),
        import_id=getattr(result, "import_id", None),
        rows_read=getattr(result, "rows_read", None),
        rows_accepted=getattr(result, "rows_accepted", None),
        rows_rejected=getattr(result, "rows_rejected", None),
        notices=list(getattr(result, "notices", ()) or ()),
        skipped=getattr(result, "skipped", None),
    )


def _message(job: Job) -> str | None:
    """What went wrong, in the page's words: a refusal for rejected rows gives the counts
    and what to do here (the rows themselves are listed below it), not the server's path
    to the rejects file or the command line's flag."""
    error = job.extra.get("error")
    if isinstance(error, RejectsExceeded):
        return (
            f"{error.summary}. Fix the rows below and upload again, or allow them to be set "
            'aside with "Rows that may be rejected".'
        )
    return job.message


def _rejects_path(job: Job) -> Path | None:
    error = job.extra.get("error")
    if isinstance(error, RejectsExceeded) and error.rejects_path:
        return Path(error.rejects_path)
    path = getattr(job.result, "rejects_path", None)
    return Path(path) if path else None


def _reject_rows(
    path: Path | None, limit: int = MAX_REJECT_ROWS
) -> tuple[list[str], list[list[str]]]:
    """The header and the first ``limit`` rows of a rejects file (written by the importer)."""
    if path is None or not path.is_file():
        return [], []
    with path.open(newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        header = next(reader, [])
        rows = [row for _, row in zip(range(limit), reader, strict=False)]
    return header, rows


@router.get("/imports", include_in_schema=False)
def imports_page(request: Request, who: Annotated[Asker, Depends(asker)]) -> Response:
    jobs = request.app.state.jobs.of(who.viewer, "import")
    return render(
        request,
        "imports.html.j2",
        who,
        history=_history(who),
        jobs=jobs,
        messages={j.job_id: _message(j) for j in jobs},
        can_import=who.viewer.can("import"),
        max_mb=MAX_UPLOAD // (1024 * 1024),
    )


@router.get("/api/imports", response_model=ImportsOut, tags=["imports"])
def imports_api(request: Request, who: Annotated[Asker, Depends(asker)]) -> ImportsOut:
    """The import log (newest first) and this login's imports in progress or done lately."""
    jobs = request.app.state.jobs.of(who.viewer, "import")
    return ImportsOut(
        imports=[import_out(i) for i in _history(who)], jobs=[job_out(j) for j in jobs]
    )


def _check_upload(request: Request, upload: UploadFile) -> str:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_UPLOAD + 64 * 1024:
        raise InputError(f"the upload is larger than {MAX_UPLOAD // (1024 * 1024)} MB")
    name = Path(upload.filename or "").name
    name = re.sub(r"[^A-Za-z0-9._ -]", "_", name).strip() or "upload"
    if name.lower().endswith((".xlsx", ".xls")):
        raise InputError(
            f"{name}: an Excel workbook; in Excel use File > Save As > CSV UTF-8, "
            "and upload the .csv (or a .zip of several)"
        )
    if not name.lower().endswith(SUFFIXES):
        raise InputError(f"{name}: upload a .csv export, or a .zip of .csv files")
    return name


def unpack(archive: Path, into: Path) -> Path:
    """The CSV files of ZIP ``archive`` written into folder ``into`` (made here), flat, by
    their own names; anything else in it is left out. Refused, with nothing left behind,
    when it holds no CSV file, more than ``MAX_ENTRIES``, two of one name, or unpacks to
    more than ``MAX_UNPACKED`` bytes (counted as written, not as the entries claim)."""
    import zipfile

    try:
        book = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise InputError(f"{archive.name} is not a readable zip file: {exc}") from exc
    with book:
        entries = [
            e for e in book.infolist() if not e.is_dir() and e.filename.lower().endswith(".csv")
        ]
        if not entries:
            raise InputError(f"{archive.name} holds no .csv file")
        if len(entries) > MAX_ENTRIES:
            raise InputError(
                f"{archive.name} holds {len(entries)} CSV files; at most {MAX_ENTRIES}"
            )
        names = [Path(e.filename.replace("\\", "/")).name for e in entries]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise InputError(f"{archive.name} holds two files named {twice[0]}")
        into.mkdir()
        written = 0
        try:
            for entry, name in zip(entries, names, strict=True):
                with book.open(entry) as source, (into / name).open("wb") as out:
                    while chunk := source.read(1024 * 1024):
                        written += len(chunk)
                        if written > MAX_UNPACKED:
                            raise InputError(
                                f"{archive.name} unpacks to more than "
                                f"{MAX_UNPACKED // (1024 * 1024)} MB"
                            )
                        out.write(chunk)
        except zipfile.BadZipFile as exc:
            shutil.rmtree(into, ignore_errors=True)
            raise InputError(f"{archive.name} is damaged: {exc}") from exc
        except BaseException:
            shutil.rmtree(into, ignore_errors=True)
            raise
    return into


def _save(upload: UploadFile, name: str, folder: Path) -> Path:
    """Copy the upload into a folder of its own, refusing it once it passes MAX_UPLOAD or
    when its content does not match its type; a ZIP is unpacked there. The path to import:
    the CSV file, or the folder the ZIP's CSV files went to."""
    uploads = folder / "uploads"
    uploads.mkdir(exist_ok=True)
    place = Path(tempfile.mkdtemp(prefix="upload-", dir=uploads))
    target = place / name
    size = 0
    try:
        with target.open("wb") as out:
            while chunk := upload.file.read(1024 * 1024):
                size += len(chunk)
                if size > MAX_UPLOAD:
                    raise InputError(f"the upload is larger than {MAX_UPLOAD // (1024 * 1024)} MB")
                out.write(chunk)
        if size == 0:
            raise InputError(f"{name} is empty")
        with target.open("rb") as check:
            head = check.read(4)
        if name.lower().endswith(".zip"):
            if head != ZIP_MAGIC:
                raise InputError(f"{name} is not a zip file")
            return unpack(target, place / "export")
        if b"\x00" in head:
            raise InputError(f"{name} is not a CSV text file")
    except BaseException:
        shutil.rmtree(place, ignore_errors=True)
        raise
    return target


def _start(request: Request, who: Asker, upload: UploadFile, max_rejects: int) -> Job:
    who.require("import")
    name = _check_upload(request, upload)
    folder = who.hub.call(lambda ws: ws.store.folder)
    path = _save(upload, name, folder)

    def work(ws: Any, job: Job) -> Any:
        return ws.import_files([path], max_rejects=max_rejects, progress=job.progress)

    jobs = request.app.state.jobs
    return jobs.start(who.hub, who.viewer, "import", work, file=name)  # type: ignore[no-any-return]


@router.post("/api/imports", response_model=JobOut, status_code=202, tags=["imports"])
def upload_api(
    request: Request,
    who: Annotated[Asker, Depends(writer)],
    file: UploadFile,
    max_rejects: int = 0,
) -> JobOut:
    """Upload a CRM export (.csv, or a .zip of .csv files; at most 50 MB) and import it in the
    background; poll ``/api/imports/jobs/{job_id}``."""
    if not 0 <= max_rejects <= 1_000_000:
        raise InputError("max_rejects must be between 0 and 1000000")
    return job_out(_start(request, who, file, max_rejects))


@router.post("/imports", include_in_schema=False)
def upload_form(
    request: Request,
    who: Annotated[Asker, Depends(writer)],
    file: UploadFile,
    max_rejects: Annotated[int, Form()] = 0,
) -> Response:
    if not 0 <= max_rejects <= 1_000_000:
        raise InputError("max_rejects must be between 0 and 1000000")
    job = _start(request, who, file, max_rejects)
    return RedirectResponse(f"/imports/jobs/{job.job_id}", status_code=303)


def _job(request: Request, who: Asker, job_id: str) -> Job:
    job: Job | None = request.app.state.jobs.get(job_id, who.viewer)
    if job is None:
        raise NotFound(f"no import {job_id!r}")
    return job


@router.get("/imports/jobs/{job_id}", include_in_schema=False)
def job_page(request: Request, who: Annotated[Asker, Depends(asker)], job_id: str) -> Response:
    job = _job(request, who, job_id)
    header, rows = _reject_rows(_rejects_path(job)) if job.state != "running" else ([], [])
    template = "import_job.html.j2" if request.headers.get("hx-request") else "import_page.html.j2"
    return render(request, template, who, job=job, out=job_out(job), header=header, rows=rows)


@router.get("/api/imports/jobs/{job_id}", response_model=JobOut, tags=["imports"])
def job_api(request: Request, who: Annotated[Asker, Depends(asker)], job_id: str) -> JobOut:
    """Where an upload's import stands: running (step, fraction), done or failed."""
    return job_out(_job(request, who, job_id))


@router.get("/api/imports/jobs/{job_id}/rejects.csv", tags=["imports"], response_class=Response)
def job_rejects(request: Request, who: Annotated[Asker, Depends(asker)], job_id: str) -> Response:
    """The rejected rows of an upload with their file, line, column and reason (CSV, cells
    a spreadsheet would run as formulas neutralised)."""
    job = _job(request, who, job_id)
    header, rows = _reject_rows(_rejects_path(job), limit=10**7)
    if not header:
        raise NotFound("this import rejected no rows")
    return Response(
        csv_text(header, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="rejects-{job_id[:8]}.csv"'},
    )
