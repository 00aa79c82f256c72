"""A throwaway single-node Apache Kafka broker (KRaft), for tests of the Kafka-protocol queue.

Production runs Redpanda; the tests run Apache Kafka because its jars come from Maven Central,
the one source reachable here (``scripts/fetch-kafka`` puts them in ``.cache/kafka/libs``).

One JVM is both the KRaft controller and the broker, on two free loopback ports, with all its
data in a temporary folder that :meth:`KafkaServer.stop` removes. :meth:`KafkaServer.pause` and
:meth:`KafkaServer.resume` stop and restart the process on the same ports and data, as an outage
would. These block while the broker stops or starts; from async code, run them through
``asyncio.to_thread`` when other tasks must keep running meanwhile.

Run ``python -m tests.support.kafka_server`` to keep one running for manual work.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import base64
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from tests.support.processes import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
FETCH_SCRIPT = REPO_ROOT / "scripts" / "fetch-kafka"
LIBS = REPO_ROOT / ".cache" / "kafka" / "libs"

NODE_ID = 1
PROBE_GROUP = "kafka-server-readiness-probe"

# Small heap and C1-only JIT: a test broker handles little traffic, lives for seconds to minutes,
# and shares two cores with the test process, so JVM start-up dominates and peak speed does not.
JVM_OPTIONS = (
    "-Xms256m",
    "-Xmx512m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
)

_T = TypeVar("_T")


class KafkaUnavailable(RuntimeError):
    """The broker could not be obtained or started; the message says what is missing."""


def ensure_jars() -> Path:
    """Fetch the broker's jars unless cached; return the folder that holds them."""
    if not FETCH_SCRIPT.exists():
        raise KafkaUnavailable(f"{FETCH_SCRIPT} is missing")
    result = subprocess.run(
        [str(FETCH_SCRIPT)], capture_output=True, text=True, check=False, timeout=600
    )
    if result.returncode != 0:
        raise KafkaUnavailable(
            f"{FETCH_SCRIPT.relative_to(REPO_ROOT)} could not provide the Kafka broker jars "
            f"(exit code {result.returncode}):\n{result.stdout}{result.stderr}"
        )
    return LIBS


def find_java() -> str:
    """The ``java`` that runs the broker: JAVA_HOME's if set, else the one on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise KafkaUnavailable(
            "no 'java' on PATH and no JAVA_HOME: the Kafka 4 broker needs Java 17 or newer "
            "(Debian's 'openjdk-17-jre-headless')"
        )
    return found


def _random_cluster_id() -> str:
    # Kafka's own format (what `kafka-storage random-uuid` prints); made here to spare a JVM start.
    # Like Kafka, skip ids starting with '-', which the storage tool would take for an option.
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def _two_free_ports() -> tuple[int, int]:
    first = free_port()
    second = free_port()
    while second == first:
        second = free_port()
    return first, second


def _run_in_own_loop(coroutine: Coroutine[Any, Any, _T]) -> _T:
    # Callers may be inside a running event loop (an async test), where asyncio.run refuses to
    # start; a thread of its own gives the probe a loop regardless of the caller's.
    outcome: list[_T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(asyncio.run(coroutine))
        except BaseException as error:
            failure.append(error)

    thread = threading.Thread(target=run, name="kafka-server-probe")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return outcome[0]


async def _port_accepts(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


async def _broker_serves(port: int) -> bool:
    """Whether the broker lists itself in its metadata (so it is unfenced) and its group
    coordinator has loaded the committed offsets."""
    # aiokafka logs an error for every refused connection; a bare connect first keeps the
    # start-up wait from filling the captured logs of the test that follows.
    if not await _port_accepts(port):
        return False
    admin = AIOKafkaAdminClient(bootstrap_servers=f"127.0.0.1:{port}", request_timeout_ms=2000)
    try:
        await admin.start()
        cluster: dict[str, Any] = await admin.describe_cluster()
        if not any(broker["node_id"] == NODE_ID for broker in cluster["brokers"]):
            return False
        # After a restart the group coordinator reloads __consumer_offsets for a moment, and
        # meanwhile aiokafka's list_consumer_group_offsets answers {} rather than raising: a
        # test would take that for lost commits. A group's description carries no error only
        # once its partition is loaded; with one offsets partition, that is every group's.
        # On the first start this also creates __consumer_offsets, which any group needs.
        coordinator = await admin.find_coordinator(PROBE_GROUP)
        (response,) = await admin.describe_consumer_groups(
            [PROBE_GROUP], group_coordinator_id=coordinator
        )
    except (KafkaError, OSError, TimeoutError):
        return False
    finally:
        await admin.close()
    return all(group[0] == 0 for group in response.groups)


def _error_lines(lines: list[str]) -> list[str]:
    """Logged errors with their exceptions' messages and causes, without the stack frames."""
    picked: list[str] = []
    in_error = False
    for line in lines:
        if line.startswith("["):
            in_error = " ERROR " in line or " FATAL " in line
            if in_error:
                picked.append(line[:400])
        elif in_error and not line.lstrip().startswith(("at ", "...")):
            picked.append(line[:400])
    return picked


class KafkaServer:
    """One single-node Kafka broker in a temporary folder; ``start()`` before use."""

    def __init__(self, port: int | None = None, startup_timeout: float = 60.0) -> None:
        """`port`: the client port, a free one if None (tests); fixed for manual use."""
        self.startup_timeout = startup_timeout
        self.root = Path(tempfile.mkdtemp(prefix="cv-eval-kafka-"))
        self.port, self.controller_port = _two_free_ports()
        if port is not None:
            self.port = port
            while self.controller_port == port:
                self.controller_port = free_port()
        self.bootstrap_servers = f"127.0.0.1:{self.port}"
        self.config_path = self.root / "server.properties"
        self.log_path = self.root / "server.log"
        self.console_path = self.root / "console.log"
        self.data_dir = self.root / "data"
        #: Seconds the last start() or resume() took until the broker served requests.
        self.last_start_seconds = 0.0
        self._libs: Path | None = None
        self._java = ""
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Fetch the jars if needed, format the storage and start the broker; raises
        KafkaUnavailable, saying what is missing, when it cannot."""
        began = time.monotonic()
        self._java = find_java()
        self._libs = ensure_jars()
        self._write_config()
        self._format_storage()
        self._launch()
        self._wait_until_serving()
        self.last_start_seconds = time.monotonic() - began

    def pause(self, timeout: float = 30.0) -> None:
        """Stop the broker as an orderly shutdown would, keeping its data and ports."""
        self._terminate(timeout)

    def resume(self) -> None:
        """Start the paused broker again on the same ports and data."""
        if self.running:
            raise RuntimeError("the Kafka broker is already running")
        began = time.monotonic()
        self._launch()
        self._wait_until_serving()
        self.last_start_seconds = time.monotonic() - began

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker and delete its folder; safe to call more than once."""
        try:
            self._terminate(timeout)
        finally:
            _live_servers.discard(self)
            shutil.rmtree(self.root, ignore_errors=True)

    def logs(self, lines: int = 40) -> str:
        """The broker's errors and the end of its log and console output, for failure messages."""
        parts = []
        for path in (self.log_path, self.console_path):
            text = path.read_text(errors="replace") if path.exists() else ""
            if not text.strip():
                continue
            all_lines = text.splitlines()
            # The cause (say, a port in use) is logged once, followed by a long stack trace
            # and shutdown chatter that would push it out of any tail.
            errors = _error_lines(all_lines)
            if errors:
                parts.append(f"--- errors in {path.name} ---\n" + "\n".join(errors[:20]))
            tail = all_lines[-lines:]
            parts.append(f"--- {path.name} (last {len(tail)} lines) ---\n" + "\n".join(tail))
        return "\n".join(parts) or "(the broker wrote no log)"

    def __enter__(self) -> KafkaServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _classpath(self) -> str:
        assert self._libs is not None, "start() first"
        return f"{self._libs}/*"

    def _write_config(self) -> None:
        listeners = f"127.0.0.1:{self.port}"
        controller = f"127.0.0.1:{self.controller_port}"
        settings = {
            "process.roles": "broker,controller",
            "node.id": NODE_ID,
            "controller.quorum.bootstrap.servers": controller,
            "controller.listener.names": "CONTROLLER",
            "listeners": f"PLAINTEXT://{listeners},CONTROLLER://{controller}",
            "advertised.listeners": f"PLAINTEXT://{listeners}",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": self.data_dir,
            # One broker: every internal topic must accept a single replica.
            "offsets.topic.replication.factor": 1,
            "transaction.state.log.replication.factor": 1,
            "transaction.state.log.min.isr": 1,
            "share.coordinator.state.topic.replication.factor": 1,
            "share.coordinator.state.topic.min.isr": 1,
            # Internal topics are created on first use; fewer partitions make that quicker.
            # The readiness probe relies on a single offsets partition (see _broker_serves).
            "offsets.topic.num.partitions": 1,
            "transaction.state.log.num.partitions": 1,
            "share.coordinator.state.topic.num.partitions": 1,
            "num.partitions": 1,
            # Tests create their topics explicitly, as production does.
            "auto.create.topics.enable": "false",
            # A consumer group forms at once instead of waiting 3 s for more members.
            "group.initial.rebalance.delay.ms": 0,
            # The broker is unfenced on a heartbeat; the default 2 s would add to start-up.
            "broker.heartbeat.interval.ms": 250,
            "auto.leader.rebalance.enable": "false",
            # Small files and buffers: a test broker holds kilobytes, not gigabytes.
            "log.segment.bytes": 1048576,
            "offsets.topic.segment.bytes": 1048576,
            "transaction.state.log.segment.bytes": 1048576,
            "log.index.size.max.bytes": 65536,
            "log.cleaner.dedupe.buffer.size": 4194304,
            "num.network.threads": 2,
            "num.io.threads": 2,
            "num.recovery.threads.per.data.dir": 1,
            "background.threads": 2,
        }
        self.config_path.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
        # Kafka logs through log4j 2; this keeps its chatter in a file and off the test output.
        (self.root / "log4j2.properties").write_text(
            "status = error\n"
            "appender.file.type = File\n"
            "appender.file.name = FILE\n"
            f"appender.file.fileName = {self.log_path}\n"
            "appender.file.layout.type = PatternLayout\n"
            "appender.file.layout.pattern = [%d] %p %m (%c)%n\n"
            "rootLogger.level = INFO\n"
            "rootLogger.appenderRef.file.ref = FILE\n"
        )

    def _java_command(self, main_class: str, *args: str) -> list[str]:
        return [
            self._java,
            *JVM_OPTIONS,
            f"-Dlog4j2.configurationFile={self.root / 'log4j2.properties'}",
            "-cp",
            self._classpath(),
            main_class,
            *args,
        ]

    def _format_storage(self) -> None:
        # --standalone makes this node the whole dynamic KRaft quorum, the Kafka 4 way for a
        # single node configured with controller.quorum.bootstrap.servers.
        command = self._java_command(
            "kafka.tools.StorageTool",
            "format",
            "--config",
            str(self.config_path),
            "--cluster-id",
            _random_cluster_id(),
            "--standalone",
        )
        result = subprocess.run(
            command, cwd=self.root, capture_output=True, text=True, check=False, timeout=120
        )
        if result.returncode != 0:
            raise KafkaUnavailable(
                f"formatting the Kafka storage failed (exit code {result.returncode}):\n"
                f"{result.stdout}{result.stderr}\n{self.logs()}"
            )

    def _launch(self) -> None:
        command = self._java_command("kafka.Kafka", str(self.config_path))
        with self.console_path.open("ab") as console:
            self._process = subprocess.Popen(
                command, cwd=self.root, stdout=console, stderr=subprocess.STDOUT
            )
        _live_servers.add(self)

    def _wait_until_serving(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        try:
            _run_in_own_loop(self._poll_until_serving(deadline))
        except BaseException:
            self._terminate(timeout=5)
            raise

    async def _poll_until_serving(self, deadline: float) -> None:
        while True:
            if self._process is None or self._process.poll() is not None:
                code = None if self._process is None else self._process.returncode
                raise KafkaUnavailable(
                    f"the Kafka broker exited during start-up (exit code {code}):\n{self.logs()}"
                )
            if await _broker_serves(self.port):
                return
            if time.monotonic() >= deadline:
                raise KafkaUnavailable(
                    f"the Kafka broker did not serve {self.bootstrap_servers} within "
                    f"{self.startup_timeout:.0f} s:\n{self.logs()}"
                )
            await asyncio.sleep(0.1)

    def _terminate(self, timeout: float) -> None:
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._process = None


# A test run that ends without its fixtures' finalizers (an interrupt at the wrong moment) must
# not leave JVMs behind holding memory and ports.
_live_servers: set[KafkaServer] = set()


@atexit.register
def _stop_leftovers() -> None:
    for server in list(_live_servers):
        server.stop(timeout=5)


def main(argv: list[str] | None = None) -> int:
    """Run a broker until interrupted, printing its address; for manual development."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.kafka_server",
        description="Run a throwaway single-node Kafka broker until Ctrl-C.",
    )
    parser.add_argument("--port", type=int, help="client port (default: a free one)")
    args = parser.parse_args(argv)
    server = KafkaServer(port=args.port)
    try:
        server.start()
    except KafkaUnavailable as error:
        print(error, file=sys.stderr)
        server.stop()
        return 1
    print(
        f"Kafka broker on {server.bootstrap_servers} "
        f"(started in {server.last_start_seconds:.1f} s; data and logs in {server.root}); "
        "Ctrl-C stops it and deletes them",
        flush=True,
    )
    # Blocked first so that sigwait, not the default handlers, receives them.
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    try:
        signal.sigwait(stop_signals)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
