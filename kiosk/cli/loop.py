"""The scan loop's commands: ``kiosk run``, ``kiosk doctor`` and ``kiosk demo``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import click

from kiosk.core.i18n import language, t
from kiosk.gate.lane import LaneResult

__all__ = ["demo", "doctor", "format_result", "printer", "run", "run_simulated"]


def format_result(result: LaneResult, who: str | None) -> str:
    """One line per decision, as the guard would see it."""
    decision = result.decision
    name = who or decision.plate or decision.subject_id or "?"
    line = f"[{result.lane}] {name:17} {decision.outcome:6} {decision.message(language())}"
    return line if result.recorded else f"{line} {t('loop.run.not_recorded')}"


def printer(roles: dict[str, str] | None = None) -> Callable[[LaneResult], None]:
    roles = roles or {}
    return lambda result: click.echo(format_result(result, roles.get(result.payload.strip())))


def run_simulated(root: Path, *, once: bool, realtime: bool, install_signals: bool = True) -> None:
    """Create (or reuse) the demo community under *root* and play the scenario."""
    from kiosk.core.clock import SystemClock
    from kiosk.gate.runner import install_stop_handlers
    from kiosk.gate.service import Gate
    from kiosk.sim.demo import GUARD, create_demo
    from kiosk.sim.simulate import run_simulation

    clock = SystemClock()
    community = create_demo(root, clock.now())
    with Gate.open(community.gate_home, clock=clock) as gate:
        if not gate.db["duty"].count_where("off_utc IS NULL"):
            gate.sign_on(GUARD[0], GUARD[2], "in", clock.now())
    roles = {token: role for role, token in community.tokens.items()}
    runner, until = run_simulation(community, realtime=realtime, once=once,
                                   on_result=printer(roles))
    if install_signals:
        install_stop_handlers(runner.stop_event)
        hang_cameras_on_sigusr1(runner)
    click.echo(t("loop.run.started", lanes=len(runner.lanes)))
    runner.run(until)
    _summary(runner)


def hang_cameras_on_sigusr1(runner) -> None:
    """In a simulation, ``kill -USR1 PID`` wedges the cameras: see the watchdog act."""
    import signal

    def hang(signum, frame) -> None:
        for lane in runner.lanes:
            lane.camera.hang()

    signal.signal(signal.SIGUSR1, hang)


def _summary(runner) -> None:
    frames = sum(lane.frames for lane in runner.lanes)
    scans = sum(len(lane.results) for lane in runner.lanes)
    click.echo(t("loop.run.summary", frames=frames, scans=scans))


@click.command("run")
@click.option("--simulate", is_flag=True,
              help="Play the scripted demo scenario (the data folder becomes a demo community).")
@click.option("--once", is_flag=True, help="With --simulate: play the scenario once, then stop.")
@click.option("--realtime/--fast", default=None,
              help="With --simulate: pace frames at 10 fps (default when looping) or as fast as possible.")
@click.option("-v", "--verbose", is_flag=True, help="Log device and loop details to stderr.")
@click.pass_context
def run(ctx: click.Context, simulate: bool, once: bool, realtime: bool | None, verbose: bool) -> None:
    """Run the gate: every configured lane on its own thread until stopped.

    Each lane reads codes from its camera or barcode scanner, takes the
    temperature if the lane requires it, decides, records the event durably
    and only then drives the LEDs, buzzer and gate relay. Stops cleanly on
    SIGTERM or Ctrl-C; under systemd it reports READY and feeds the watchdog.

    With --simulate, the data folder holds a demo community (created if
    needed) and a scripted scenario of camera frames is played instead.

    \b
    Example:
        kiosk --home /var/lib/kiosk run
        kiosk --home demo-data run --simulate --once
    """
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if simulate:
        run_simulated(ctx.obj, once=once, realtime=not once if realtime is None else realtime)
        return
    from kiosk.gate.runner import Runner, install_stop_handlers
    from kiosk.gate.wiring import build_lanes
    from kiosk.store.config import load_config

    lanes = build_lanes(load_config(ctx.obj), on_result=printer())
    runner = Runner(lanes)
    install_stop_handlers(runner.stop_event)
    click.echo(t("loop.run.started", lanes=len(lanes)))
    runner.run()
    _summary(runner)


@click.command("doctor")
@click.option("--camera-timeout", type=float, default=3.0, show_default=True,
              help="Seconds to wait for a camera picture.")
@click.pass_context
def doctor(ctx: click.Context, camera_timeout: float) -> None:
    """Check the configuration and every configured device, in plain words.

    Checks the configuration, data folder permissions, trusted keys, the
    registry and its age, each lane's camera (one picture within the
    timeout), QR decoder, barcode scanner and thermometer, the GPIO pins, the
    clock and free disk space. Exit status 1 if anything is an ERROR.

    \b
    Example:
        kiosk --home /var/lib/kiosk doctor
        kiosk --lang en doctor --camera-timeout 10
    """
    from kiosk.gate.doctor import diagnose, render

    findings = diagnose(ctx.obj, camera_timeout=camera_timeout)
    for line in render(findings):
        click.echo(line)
    if any(finding.level == "error" for finding in findings):
        raise SystemExit(1)


@click.command()
@click.option("--once", is_flag=True, help="Play the scenario once, fast, then stop.")
@click.pass_context
def demo(ctx: click.Context, once: bool) -> None:
    """Create a demo office and gate with a demo registry, then run the simulated gate.

    Runs until Ctrl-C, printing each decision (with --once: one round, then stop).

    \b
    Example:
        kiosk --home demo-data demo
    """
    from kiosk.sim.demo_run import run_demo

    run_demo(ctx.obj, once=once)
