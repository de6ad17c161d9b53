"""PDF certificate benchmark (issue 5): PDF certificates rendered per second, in a mix of
the pack's locales. See docs/performance.md, "Certificates", "PDF certificates".

    .venv/bin/python bench/certificate_pdf.py [--certificates 600] [--locales en,hi]
        [--rounds 3] [--processes N] [--seconds 10] [--profile cprofile] [--json out.json]

Set-up (not timed): as bench/certificates.py (a fresh PostgreSQL database with the India
pack, production settings, one key generation, one facility, one vaccinator, one registered
person per certificate, through the services); one dose recorded for each person with
`vaccination.services.record_dose` and its certificates issued by
`certificates.services.process_outbox` (DCC, SMART Health Card, W3C VC: three QR codes on
every PDF). Certificate i is rendered in locale i mod len(--locales).

Part (a), CPU per PDF, in this one process (the app built as cowin_kit/wsgi.py builds it,
then gc.freeze()): after --warmup PDFs (not counted: fonts parsed and subset, label and
shaping caches warm), --rounds rounds, each rendering every certificate once: the
certificate row read, then `certificates.pdf.build_view` (the person, dose, labels, QR
images) and `certificates.pdf.certificate_pdf` (the drawing and the PDF bytes), each timed
with time.process_time. The QR image cache is emptied before each round, so every PDF
pays for its QR codes as a first download does. Figure: the median round's CPU ms per PDF
(split build_view / drawing), and 2,000 / that = the rate two busy cores would give
(arithmetic, not a run).

Part (b), wall clock: --processes forked processes (default: the CPU count; each its own
app and connections, as gunicorn workers have) render `render_certificate_pdf` (the route's
call: view, plugin template hook, PDF) for every certificate in turn, in their own session
per PDF, for --seconds after a warm-up; rate = PDFs / wall time. The machine's busy
share before the phase and the CPU the machine spent beyond the benchmark's processes are
reported; if other work took more than a tenth, the phase is flagged "disturbed" (its rate
is understated) and the CPU figure of part (a) is the one to quote.

Check: a sample of the PDFs of every locale is read back: pdftotext finds the person's name
and reference ID, and the QR images (pdfimages) decode with
`cowin_kit.certificates.formats.qr.read_texts` to exactly the certificate's DCC, SHC and VC texts.
Exits non-zero otherwise. It also counts the sampled PDFs drawn by fpdf2, the fallback of
the page writer (`cowin_kit.core.pdf_page`): expected 0.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _harness import (  # noqa: E402
    BenchInstance, InProcessApp, add_cpu_bench_options, log, machine_cpu, process_cpu,
    run_bounded, wait_for_quiet_machine,
)
from booking_cpu import profile  # noqa: E402
from certificates import FACILITY, VACCINATOR, set_up  # noqa: E402


def issue_certificates(instance: BenchInstance, refs: list[str]) -> None:
    """One dose for every person, and its certificates issued (not timed)."""
    from sqlalchemy import select

    from cowin_kit.audit.services import acting_as, cli_actor
    from cowin_kit.certificates import services as certificates
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.identity.models import StaffUser
    from cowin_kit.geography.models import Facility
    from cowin_kit.vaccination import services as vaccination

    with InProcessApp(instance), acting_as(cli_actor()):
        pack = active_pack()
        factory = get_database().session_factory
        with factory() as session:
            vaccinator = session.scalars(select(StaffUser)
                                         .where(StaffUser.username == VACCINATOR)).one()
            facility = session.scalars(select(Facility).where(Facility.code == FACILITY)).one()
            session.expunge_all()
            for ref in refs:
                vaccination.record_dose(session, pack, vaccinator, facility=facility,
                                        reference_id=ref, product_code="COVISHIELD",
                                        lot="4121Z005")
        keys = certificates.keystore().current()
        while certificates.process_outbox(factory, pack, keys, limit=200):
            pass


def certificate_ids() -> list[str]:
    from sqlalchemy import select

    from cowin_kit.certificates.models import Certificate
    from cowin_kit.core.db import get_database

    with get_database().session() as session:
        return list(session.scalars(select(Certificate.id).order_by(Certificate.id)))


def cpu_per_pdf(app, ids: list[str], locales: list[str], args: argparse.Namespace) -> dict:
    from cowin_kit.certificates import pdf
    from cowin_kit.certificates.models import Certificate
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database

    factory = get_database(app).session_factory

    def render(count: int, timed: bool) -> tuple[float, float, float]:
        view_s = pdf_s = read_s = 0.0
        for i in range(count):
            cid = ids[i % len(ids)]
            locale = locales[i % len(locales)]
            t0 = time.process_time()
            with factory() as session:
                certificate = session.get(Certificate, cid)
                t1 = time.process_time()
                view = pdf.build_view(session, active_pack(), certificate, locale)
            t2 = time.process_time()
            data = pdf.certificate_pdf(view)
            t3 = time.process_time()
            if not data.startswith(b"%PDF"):
                raise RuntimeError(f"certificate {cid}: not a PDF")
            read_s, view_s, pdf_s = read_s + t1 - t0, view_s + t2 - t1, pdf_s + t3 - t2
        return read_s, view_s, pdf_s

    render(args.warmup, False)
    rounds = []
    for number in range(1, args.rounds + 1):
        pdf.qr_image.cache_clear()
        read_s, view_s, pdf_s = render(len(ids), True)
        n = len(ids)
        figures = {"pdfs": n, "read_ms": round(1000 * read_s / n, 3),
                   "build_view_ms": round(1000 * view_s / n, 3),
                   "certificate_pdf_ms": round(1000 * pdf_s / n, 3),
                   "total_ms": round(1000 * (read_s + view_s + pdf_s) / n, 3)}
        rounds.append(figures)
        log(f"round {number}: {n} PDFs; CPU per PDF {figures['total_ms']} ms (row "
            f"{figures['read_ms']}, build_view {figures['build_view_ms']}, drawing + bytes "
            f"{figures['certificate_pdf_ms']})")
    result = {key: statistics.median(r[key] for r in rounds)
              for key in ("read_ms", "build_view_ms", "certificate_pdf_ms", "total_ms")}
    result["rounds"] = rounds
    result["ceiling_per_second_2_cores"] = round(2000 / result["total_ms"], 1)
    if args.profile != "none":
        def work() -> None:
            pdf.qr_image.cache_clear()
            render(len(ids), False)
        profile(args.profile, work, args.top, args.profile_out)
    return result


def _renderer(instance: BenchInstance, ids: list[str], locales: list[str], offset: int,
              seconds: float, warmup: int, barrier, results, done) -> None:
    from cowin_kit.certificates import pdf
    from cowin_kit.certificates.models import Certificate
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database

    try:
        with InProcessApp(instance, like_wsgi=True) as app:
            factory = get_database(app).session_factory

            def one(i: int) -> None:
                with factory() as session:
                    certificate = session.get(Certificate, ids[i % len(ids)])
                    data = pdf.render_certificate_pdf(
                        session, active_pack(), certificate, locales[i % len(locales)])
                if not data.startswith(b"%PDF"):
                    raise RuntimeError("not a PDF")

            for i in range(warmup):
                one(i)
            pdf.qr_image.cache_clear()
            barrier.wait()
            cpu0, started = time.process_time(), time.monotonic()
            deadline = started + seconds
            count, i = 0, offset
            while time.monotonic() < deadline:
                one(i)
                count, i = count + 1, i + 1
                if count % len(ids) == 0:
                    pdf.qr_image.cache_clear()
            ended = time.monotonic()
            results.put({"pid": os.getpid(), "pdfs": count, "seconds": ended - started,
                         "cpu_s": time.process_time() - cpu0})
            done.wait(timeout=600)  # connections open until the parent has read their CPU
    except BaseException as exc:  # the parent must not wait for a dead child
        results.put({"pid": os.getpid(), "error": repr(exc)})
        raise


def wall_clock(instance: BenchInstance, ids: list[str], locales: list[str],
               args: argparse.Namespace, busy_before: float) -> dict:
    import multiprocessing

    context = multiprocessing.get_context("fork")
    processes = args.processes
    barrier = context.Barrier(processes + 1)
    done = context.Barrier(processes + 1)
    results = context.Queue()
    share = len(ids) // processes
    children = [context.Process(target=_renderer, args=(
        instance, ids, locales, n * share, args.seconds, args.warmup, barrier, results, done))
        for n in range(processes)]
    for child in children:
        child.start()
    barrier.wait(timeout=600)
    machine0, wall0 = machine_cpu(), time.monotonic()
    db_pids = instance.backend_pids()
    db0 = {p: process_cpu(p) for p in db_pids}
    outcome = [results.get(timeout=args.seconds + 600) for _ in children]
    machine1, wall1 = machine_cpu(), time.monotonic()
    db_cpu = sum(process_cpu(p) - db0[p] for p in db_pids)
    done.wait(timeout=600)
    for child in children:
        child.join()
    errors = [r["error"] for r in outcome if "error" in r]
    if errors or any(child.exitcode != 0 for child in children):
        raise RuntimeError(f"a rendering process failed: {errors}")
    pdfs = sum(r["pdfs"] for r in outcome)
    seconds = max(r["seconds"] for r in outcome)
    bench_cpu = sum(r["cpu_s"] for r in outcome)
    busy = machine1[0] - machine0[0]
    total = machine1[1] - machine0[1]
    result = {"processes": processes, "pdfs": pdfs, "seconds": round(seconds, 2),
              "per_second": round(pdfs / seconds, 1),
              "cpu_ms_per_pdf": round(1000 * bench_cpu / pdfs, 2),
              "machine_busy_before": busy_before,
              "machine_busy_pct": round(100 * busy / total, 1) if total else 0.0,
              "bench_cpu_s": round(bench_cpu, 2), "db_cpu_s": round(db_cpu, 2),
              "other_cpu_s": round(busy - bench_cpu - db_cpu, 2),
              "wall_s_measured": round(wall1 - wall0, 2)}
    if result["other_cpu_s"] > 0.1 * busy:
        result["disturbed"] = True
        log(f"WARNING wall clock: {result['other_cpu_s']} CPU s of {busy:.1f} went to other "
            "processes; the rate is understated (quote the CPU per PDF instead)")
    return result


def check(app, ids: list[str], locales: list[str], sample: int) -> dict:
    """A sample of PDFs per locale: the name and reference ID in pdftotext's output, and
    the three QR images decode to the certificate's signed texts."""
    from cowin_kit.certificates import pdf
    from cowin_kit.certificates.formats import qr, shc
    from cowin_kit.certificates.models import Certificate
    from cowin_kit.config.runtime import active_pack
    from cowin_kit.core.db import get_database
    from cowin_kit.registration.models import Beneficiary

    for tool in ("pdftotext", "pdfimages"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} (poppler-utils) is needed to check the PDFs")
    factory = get_database(app).session_factory
    checked = by_fpdf2 = 0
    step = max(1, len(ids) // sample)
    with tempfile.TemporaryDirectory(prefix="cert-pdf-") as tmp:
        folder = Path(tmp)
        for n, i in enumerate(range(0, len(ids), step)):
            locale = locales[n % len(locales)]
            pdf.qr_image.cache_clear()
            with factory() as session:
                certificate = session.get(Certificate, ids[i])
                person = session.get(Beneficiary, certificate.beneficiary_id)
                data = pdf.render_certificate_pdf(session, active_pack(),
                                                  certificate, locale)
                expected = {certificate.dcc, shc.qr_text(certificate.shc), certificate.vc}
            text = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=data,
                                  capture_output=True, check=True).stdout.decode()
            if person.name not in text or person.reference_id not in text:
                raise RuntimeError(f"{locale} PDF of {certificate.id}: name or reference ID "
                                   "not found by pdftotext")
            # the page writer's mark; fpdf2 (the fallback) names itself as producer
            by_fpdf2 += b"/Producer (cowin-kit)" not in data
            (folder / "c.pdf").write_bytes(data)
            images = folder / f"img{n}"
            images.mkdir()
            subprocess.run(["pdfimages", "-png", str(folder / "c.pdf"), str(images / "i")],
                           check=True)
            texts: list[str] = []
            for image in sorted(images.glob("*.png")):
                texts += qr.read_texts(image.read_bytes())
            if set(texts) != expected:
                raise RuntimeError(f"{locale} PDF of {certificate.id}: the QR images decode "
                                   f"to {len(set(texts) & expected)} of the 3 signed texts")
            checked += 1
    return {"pdfs_checked": checked, "drawn_by_fpdf2": by_fpdf2, "locales": locales}


def run(args: argparse.Namespace) -> dict:
    locales = [x.strip() for x in args.locales.split(",") if x.strip()]
    results: dict = {"benchmark": "certificate_pdf", "machine_cpus": os.cpu_count(),
                     "certificates": args.certificates, "locales": locales,
                     "loadavg_before": [round(x, 2) for x in os.getloadavg()]}
    with BenchInstance(args.server_url, {"DATABASE_POOL_SIZE": 2}) as instance:
        log(f"database {instance.name}: {args.certificates} people, doses and certificates")
        refs = set_up(instance, args.certificates)
        issue_certificates(instance, refs)
        if args.processes:
            # before this process builds its app, so the children fork from a clean one
            quiet = wait_for_quiet_machine(patience_s=args.patience)
            log(f"wall clock: {args.processes} process(es) for {args.seconds:.0f} s "
                f"(machine {quiet:.0%} busy before)")
            with InProcessApp(instance):
                ids = certificate_ids()
            results["wall_clock"] = wall_clock(instance, ids, locales, args, quiet)
            log(f"wall clock: {results['wall_clock']['per_second']}/s "
                f"({results['wall_clock']})")
        with InProcessApp(instance, like_wsgi=True) as app:
            ids = certificate_ids()
            if len(ids) != args.certificates:
                raise RuntimeError(f"{len(ids)} certificates for {args.certificates} doses")
            quiet = wait_for_quiet_machine(patience_s=args.patience)
            results["cpu"] = cpu_per_pdf(app, ids, locales, args)
            results["cpu"]["machine_busy_before"] = quiet
            log(f"CPU per PDF: {results['cpu']['total_ms']} ms (build_view "
                f"{results['cpu']['build_view_ms']} ms, drawing + bytes "
                f"{results['cpu']['certificate_pdf_ms']} ms) -> at most "
                f"{results['cpu']['ceiling_per_second_2_cores']}/s on 2 busy cores")
            results["check"] = check(app, ids, locales, args.check_sample)
            log(f"check: {results['check']}")
    results["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--certificates", type=int, default=600,
                        help="certificates issued and rendered (each once per round)")
    parser.add_argument("--locales", default="en,hi", help="rendered in turn, comma-separated")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="processes of the wall-clock part (0: skip it)")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="length of the wall-clock part")
    parser.add_argument("--patience", type=float, default=120,
                        help="longest wait for a quiet machine before a part, s")
    parser.add_argument("--check-sample", type=int, default=10, help="PDFs read back")
    add_cpu_bench_options(parser, "PDFs")
    parser.set_defaults(warmup=50)
    args = parser.parse_args()
    if args.rounds < 1 or args.certificates < 2:
        parser.error("--rounds must be at least 1 and --certificates at least 2")
    return run_bounded(run, args)


if __name__ == "__main__":
    sys.exit(main())
