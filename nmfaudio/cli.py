"""The ``nmfaudio`` command line: the user-facing edge of the pipeline.

Every failure a user can cause ends as one line on stderr: exit status 2 for
usage errors, 1 for everything else, never a traceback.
"""

from __future__ import annotations

import argparse
import functools
import glob
import json
import os
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path

from ._checks import frame_length, hop, mask_power, random_seed, sample_rate
from ._version import __version__
from .defaults import BETA_NAMES, COMPONENTS_PER_SOURCE, HOP_LENGTH, N_FFT, N_RESTARTS, SUBTYPES
from .exceptions import NmfaudioError, ParameterError

# The pipeline's modules (numpy, librosa, numba) are imported by the commands
# that use them, not here: `nmfaudio --version`, `--help` and usage errors answer
# at once.

PROG = "nmfaudio"


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are a single line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _real(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _whole_number(minimum: int):
    """An argparse type: a whole number >= ``minimum``."""

    def parse(text: str) -> int:
        value = _integer(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


_at_least_one = _whole_number(1)


def _checked(parse, check):
    """An argparse type: ``parse`` the text into a number, then the library's own ``check``
    of it, so the command line and the library refuse the same values with the same words."""

    def convert(text: str):
        value = parse(text)
        try:
            return check(value)
        except ParameterError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


_hop = _checked(_integer, hop)
_n_fft = _checked(_integer, frame_length)
_sample_rate = _checked(_integer, functools.partial(sample_rate, "the sample rate"))
_seed = _checked(_integer, random_seed)
_mask_power = _checked(_real, mask_power)


def _number(text: str) -> float:
    value = _real(text)
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a non-negative number, got {text}")
    return value


def _positive_number(text: str) -> float:
    value = _number(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be greater than 0, got 0")
    return value


def _beta(text: str) -> float:
    if text.lower() in BETA_NAMES:
        return BETA_NAMES[text.lower()]
    try:
        return _number(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected a number >= 0 or one of {', '.join(BETA_NAMES)}, got {text!r}"
        ) from None


def _subtype(text: str) -> str:
    if text.upper() not in SUBTYPES:
        raise argparse.ArgumentTypeError(f"choose from {', '.join(SUBTYPES)}, got {text!r}")
    return text.upper()


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Separate a music recording into parts with non-negative matrix factorization.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    sep = commands.add_parser(
        "separate",
        help="split a recording into components, sources or instruments",
        description=(
            "Split INPUT into K NMF components, written as OUTDIR/component_00.wav, ...;"
            " with --sources S, group them blindly into S sources (OUTDIR/source_00.wav, ...);"
            " with --templates, separate the instruments of learnt templates (OUTDIR/<name>.wav)."
            " Every file has the input's channels; together they add up to the input."
        ),
    )
    sep.add_argument(
        "input", metavar="INPUT", type=Path, nargs="+",
        help="audio files (WAV, FLAC, OGG, MP3), folders of them or glob patterns",
    )  # fmt: skip
    sep.add_argument(
        "-k",
        "--components",
        type=_at_least_one,
        metavar="K",
        help=f"number of components (default: 8, or {COMPONENTS_PER_SOURCE} per source with"
        " --sources)",
    )
    sep.add_argument(
        "--sources",
        type=_at_least_one,
        metavar="S",
        help="split into S sources blindly: components grouped by timbre, averaged over restarts",
    )
    sep.add_argument(
        "--restarts",
        type=_at_least_one,
        metavar="R",
        help=f"with --sources: average the sources of R random starts (default: {N_RESTARTS})",
    )
    sep.add_argument(
        "--templates",
        nargs="+",
        type=Path,
        metavar="NPZ",
        help="template sets from 'nmfaudio learn', kept fixed: one output file per set",
    )
    sep.add_argument(
        "--extra",
        type=_whole_number(0),
        default=0,
        metavar="K0",
        help="with --templates: free components for the rest, written as rest.wav (default: 0)",
    )
    sep.add_argument(
        "--adapt",
        action="store_true",
        help="with --templates: adapt the templates to the recording instead of keeping them fixed",
    )
    sep.add_argument(
        "--keep-components",
        action="store_true",
        help="with --sources or --templates: also write the component files",
    )
    sep.add_argument(
        "-o",
        "--outdir",
        type=Path,
        metavar="OUTDIR",
        help="output directory (default: <input stem>_separated beside INPUT); with several"
        " inputs, the folder that gets one folder per input, OUTDIR/<input stem>",
    )
    sep.add_argument(
        "--jobs",
        type=_at_least_one,
        metavar="J",
        help="with several inputs: separate J at once, in worker processes sharing the cores",
    )
    sep.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="with several inputs: run them on a Dask cluster (tcp://host:8786); the files"
        " must be at the same paths on its workers",
    )
    sep.add_argument(
        "--overwrite",
        action="store_true",
        help="with several inputs: separate again those whose folder is complete (by"
        " default they are skipped, so an interrupted batch resumes)",
    )
    sep.add_argument(
        "--iterations",
        type=_at_least_one,
        default=200,
        metavar="N",
        help="maximum NMF iterations (default: 200)",
    )
    sep.add_argument(
        "--tol",
        type=_number,
        default=1e-4,
        help="stop when an iteration improves the loss by less than this"
        " fraction; 0 runs all iterations (default: 1e-4)",
    )
    _add_stft_options(sep)
    _add_cost_options(sep)
    sep.add_argument("--seed", type=_seed, default=0, help="random seed (default: 0)")
    sep.add_argument(
        "--mask-power",
        type=_mask_power,
        default=2.0,
        metavar="P",
        help="soft-mask exponent, up to 8: 2 Wiener, 1 magnitude ratio (default: 2)",
    )
    sep.add_argument(
        "--sr",
        type=_sample_rate,
        metavar="HZ",
        help="resample to this rate first (default: keep the file's rate; with --templates,"
        " their rate)",
    )
    sep.add_argument(
        "--subtype",
        type=_subtype,
        default="FLOAT",
        help=f"sample encoding: {', '.join(SUBTYPES)} (default: FLOAT)",
    )
    sep.add_argument(
        "--plot",
        action="store_true",
        help="also write OUTDIR/decomposition.png and OUTDIR/components.png",
    )
    sep.add_argument(
        "--report",
        action="store_true",
        help="also write OUTDIR/report.html, a page to hear and see the parts in a browser",
    )
    sep.add_argument(
        "--reference",
        type=Path,
        metavar="DIR",
        help="with --report: score the parts against the true ones in DIR, shown in the page",
    )
    sep.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    sep.set_defaults(run=_run_separate, parser=sep)

    report = commands.add_parser(
        "report",
        help="write a listening report for a folder 'separate' wrote",
        description=(
            "Write OUTDIR/report.html for the parts an earlier 'nmfaudio separate' wrote"
            " into OUTDIR: one page, opened in a browser, to hear the parts in sync (solo,"
            " mute, one transport) and see their spectrograms and settings."
        ),
    )
    report.add_argument("outdir", metavar="OUTDIR", type=Path)
    report.add_argument(
        "--reference", type=Path, metavar="DIR",
        help="score the parts against the true ones in DIR, shown in the page",
    )  # fmt: skip
    report.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    report.set_defaults(run=_run_report)

    plot = commands.add_parser(
        "plot",
        help="draw a spectrogram as a PNG",
        description="Draw the dB magnitude spectrogram of INPUT on a log-frequency axis.",
    )
    plot.add_argument("input", metavar="INPUT", type=Path, help="audio file")
    plot.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="PNG",
        help="image to write (default: <input stem>_spectrogram.png beside INPUT)",
    )
    _add_stft_options(plot)
    plot.add_argument(
        "--max-freq",
        type=_positive_number,
        metavar="HZ",
        help="top of the frequency axis (default: half the sample rate)",
    )
    plot.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    plot.set_defaults(run=_run_plot)

    learn = commands.add_parser(
        "learn",
        help="learn spectral templates of one instrument",
        description=(
            "Learn K spectral templates from isolated recordings of one instrument (NMF"
            " on their spectrograms) and save them, with their sample rate, STFT"
            " settings and cost, for 'nmfaudio separate --templates'."
        ),
    )
    learn.add_argument("files", metavar="FILE", type=Path, nargs="+", help="audio files")
    learn.add_argument(
        "-k", "--components", type=_at_least_one, required=True, metavar="K",
        help="number of templates",
    )  # fmt: skip
    learn.add_argument(
        "-o", "--output", type=Path, required=True, metavar="NPZ", help="template file to write"
    )
    learn.add_argument(
        "--name", help="instrument name, used for the separated files (default: the NPZ's stem)"
    )
    learn.add_argument(
        "--context",
        type=_at_least_one,
        default=2,
        metavar="C",
        help="frames each template spans (default: 2)",
    )
    learn.add_argument(
        "--sr",
        type=_sample_rate,
        metavar="HZ",
        help="resample every file to this rate (default: the first file's rate)",
    )
    _add_stft_options(learn)
    learn.add_argument(
        "--iterations", type=_at_least_one, default=200, metavar="N",
        help="maximum NMF iterations (default: 200)",
    )  # fmt: skip
    _add_cost_options(learn)
    learn.add_argument("--seed", type=_seed, default=0, help="random seed (default: 0)")
    learn.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    learn.set_defaults(run=_run_learn)

    evaluate = commands.add_parser(
        "evaluate",
        help="score separated sources against the true ones",
        description=(
            "Score the WAV files of ESTIMATE_DIR against those of REFERENCE_DIR (mixture.wav"
            " skipped): BSS Eval SDR, SIR, SAR (mir_eval) and SI-SDR in dB, per source and"
            " their mean. Files are matched by name, else by the best permutation."
        ),
    )
    evaluate.add_argument("reference_dir", metavar="REFERENCE_DIR", type=Path)
    evaluate.add_argument("estimate_dir", metavar="ESTIMATE_DIR", type=Path)
    evaluate.add_argument("--json", action="store_true", help="print JSON instead of a table")
    evaluate.set_defaults(run=_run_evaluate)
    return parser


def _add_stft_options(parser: argparse.ArgumentParser) -> None:
    # No defaults here: None tells "not given" (templates bring their own settings).
    parser.add_argument(
        "--n-fft",
        type=_n_fft,
        metavar="N",
        help=f"STFT frame length in samples (default: {N_FFT})",
    )
    parser.add_argument(
        "--hop",
        type=_hop,
        metavar="N",
        help=f"STFT hop in samples (default: {HOP_LENGTH})",
    )


def _add_cost_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--beta",
        type=_beta,
        default=1.0,
        metavar="B",
        help="divergence the NMF minimises: 0 or 'is' (Itakura-Saito), 1 or 'kl' (default),"
        " 2 or 'euclidean', or any number >= 0",
    )
    parser.add_argument(
        "--sparsity",
        type=_number,
        default=0.0,
        metavar="A",
        help="weight of an L1 penalty on templates and activations (default: 0)",
    )
    parser.add_argument(
        "--continuity",
        type=_number,
        default=0.0,
        metavar="A",
        help="weight of a temporal continuity penalty on the activations (default: 0)",
    )


def _cost_options(args: argparse.Namespace) -> dict[str, float]:
    return {"beta": args.beta, "sparsity": args.sparsity, "continuity": args.continuity}


def _run_separate(args: argparse.Namespace) -> int:
    from .pipeline import collect_inputs, separate_file, separate_files

    _check_separate_options(args)
    options = dict(
        n_components=args.components, n_sources=args.sources,
        n_restarts=args.restarts or N_RESTARTS, templates=args.templates or (),
        n_extra=args.extra, adapt=args.adapt, keep_components=args.keep_components,
        sr=args.sr, n_fft=args.n_fft, hop_length=args.hop, subtype=args.subtype,
        plots=args.plot, report=args.report, reference=args.reference,
        n_iter=args.iterations, tol=args.tol, mask_power=args.mask_power, seed=args.seed,
        progress=not args.quiet, **_cost_options(args),
    )  # fmt: skip
    first = args.input[0]
    pattern = not first.exists() and glob.has_magic(str(first))
    batch = len(args.input) > 1 or first.is_dir() or pattern or args.jobs or args.scheduler
    if not batch:
        source = args.input[0]
        outdir = args.outdir or source.with_name(f"{source.stem}_separated")
        about = {"command": _command_line(args)}
        result = separate_file(source, outdir, about=about, **options)
        if not args.quiet:
            from ._updates import describe_cost

            count = result.n_sources or result.n_components
            what = "sources" if result.sources else "components"
            print(
                f"wrote {count} {what} to {outdir} ({describe_cost(result.beta, result.penalties)}"
                f" {result.losses[-1]:.6g} after {len(result.losses)} iterations)"
            )
        return 0
    if args.outdir is None:
        args.parser.error("several inputs need -o OUTROOT, the folder their folders go in")
    collect_inputs(args.input, args.outdir)  # a bad input is said before any work
    client = _client(args.scheduler) if args.scheduler else None
    try:
        results = separate_files(
            args.input, args.outdir, jobs=args.jobs, client=client, overwrite=args.overwrite,
            about={"command": _command_line(args)}, **options,
        )  # fmt: skip
    finally:
        if client is not None:
            client.close()
    for _, message in results.failed:
        print(f"{PROG}: error: {message}", file=sys.stderr)
    if not args.quiet or results.failed:
        print(f"{PROG}: {results.summary()} (in {args.outdir})", file=sys.stderr)
    return 1 if results.failed else 0


def _client(address: str):
    try:
        from dask.distributed import Client
    except ImportError:
        raise NmfaudioError(
            "--scheduler needs Dask: pip install 'nmfaudio[dask]' (or dask[distributed])"
        ) from None
    try:
        return Client(address, timeout=10)
    except (OSError, TimeoutError, ValueError) as exc:  # ValueError: not an address
        raise NmfaudioError(f"cannot reach the Dask scheduler at {address} ({exc})") from None


def _command_line(args: argparse.Namespace) -> list[str]:
    """What was run, for the manifest."""
    return [PROG, *(sys.argv[1:] if args.argv is None else args.argv)]


def _check_separate_options(args: argparse.Namespace) -> None:
    """Options that contradict each other are usage errors, found before any work."""
    if args.templates:
        taken = {"--sources": args.sources, "-k": args.components, "--n-fft": args.n_fft,
                 "--hop": args.hop}  # fmt: skip
        for option, value in taken.items():
            if value is not None:
                args.parser.error(
                    f"{option} cannot be used with --templates (the templates"
                    " fix the components and STFT settings; use --extra for free components)"
                )  # fmt: skip
    elif args.extra or args.adapt:
        args.parser.error(f"{'--extra' if args.extra else '--adapt'} needs --templates")
    elif args.keep_components and not args.sources:
        args.parser.error("--keep-components needs --sources or --templates")
    if args.restarts and not args.sources:
        args.parser.error("--restarts needs --sources")
    if args.reference is not None and not args.report:
        args.parser.error("--reference needs --report")
    if args.sources and args.components and args.components < args.sources:
        args.parser.error(f"-k {args.components} is fewer components than --sources {args.sources}")


def _stft_options(args: argparse.Namespace) -> dict[str, int]:
    """``--n-fft`` and ``--hop`` as keyword arguments, defaults filled in."""
    return {"n_fft": args.n_fft or N_FFT, "hop_length": args.hop or HOP_LENGTH}


def _run_learn(args: argparse.Namespace) -> None:
    from .audio_io import load
    from .templates import check_name, learn

    if args.output.suffix.lower() != ".npz":
        raise NmfaudioError(f"{args.output}: templates are written as NPZ; give it a .npz name")
    name = args.name if args.name is not None else args.output.stem
    check_name(name)
    y, sr = load(args.files[0], sr=args.sr)
    signals = [y] + [load(path, sr=sr)[0] for path in args.files[1:]]
    templates = learn(
        signals, sr, args.components, name=name, context=args.context, **_stft_options(args),
        n_iter=args.iterations, seed=args.seed, progress=not args.quiet, **_cost_options(args),
    )  # fmt: skip
    templates.save(args.output)
    if not args.quiet:
        print(f"wrote {templates.n_components} templates {name!r} ({sr} Hz) to {args.output}")


def _run_plot(args: argparse.Namespace) -> None:
    from . import plot
    from .audio_io import load
    from .outputs import write_file

    output = args.output or args.input.with_name(f"{args.input.stem}_spectrogram.png")
    if output.suffix.lower() != ".png":
        raise NmfaudioError(f"{output}: the picture is written as PNG; give it a .png name")
    y, sr = load(args.input)
    figure = plot.spectrogram(
        y, sr, **_stft_options(args), max_freq=args.max_freq,
        title=args.input.name,
    )  # fmt: skip
    write_file(output, lambda path: figure.savefig(path, dpi=100, format="png"))
    if not args.quiet:
        print(f"wrote {output}")


def _run_report(args: argparse.Namespace) -> None:
    from . import report

    path = report.write(args.outdir, reference=args.reference)
    if not args.quiet:
        print(f"wrote {path}")


def _run_evaluate(args: argparse.Namespace) -> None:
    from .evaluation import evaluate_dirs

    scores = evaluate_dirs(args.reference_dir, args.estimate_dir)
    print(json.dumps(scores.to_dict(), indent=2) if args.json else scores.table())


class _Terminated(BaseException):  # not caught by handlers of ordinary errors
    """SIGTERM arrived: unwind (staging folders are removed on the way) and exit."""


def _terminate(signum, frame) -> None:
    raise _Terminated


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    for stream in (sys.stdout, sys.stderr):
        # A file name that is not UTF-8 (its bytes kept as surrogates) is shown escaped.
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = None if argv is None else [str(a) for a in argv]
    if args.command is None:  # plain `nmfaudio`: show what there is to do
        parser.print_help(sys.stderr)
        return 2
    warnings.showwarning = _one_line_warning
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)  # clean up as for Ctrl-C, then exit 143
    try:
        status = args.run(args) or 0
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except NmfaudioError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(
            f"{PROG}: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
            file=sys.stderr,
        )
        return 1
    except MemoryError:
        print(
            f"{PROG}: error: out of memory; try fewer components or a shorter input",
            file=sys.stderr,
        )
        return 1
    except _Terminated:
        print(f"{PROG}: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    return status
