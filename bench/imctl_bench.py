"""Shared pieces of the bench/ scripts: starting imctl servers (serve all, or a distributed
cluster of one router, logic, job and comet with the Kafka test broker), reading a process's
CPU time and RSS from /proc, scraping Prometheus counters, and describing the machine.

Every process started here is recorded by pid and stopped by pid (SIGTERM, then SIGKILL after
10 s), newest first.
"""
import os
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of `pid` from /proc/PID/stat (its threads included)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def descendants(pid):
    """The pids of every process below `pid` (children, grandchildren...)."""
    found, pending = [], [pid]
    while pending:
        parent = pending.pop()
        try:
            for task in os.listdir(f"/proc/{parent}/task"):
                with open(f"/proc/{parent}/task/{task}/children") as children:
                    for child in children.read().split():
                        found.append(int(child))
                        pending.append(int(child))
        except FileNotFoundError:
            pass
    return found


def tree_cpu_seconds(pid):
    """CPU time of `pid` and of its live descendants."""
    total = 0.0
    for each in [pid] + descendants(pid):
        try:
            total += cpu_seconds(each)
        except FileNotFoundError:
            pass
    return total


def machine_busy_ticks():
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    with open("/proc/stat") as stat:
        values = [int(value) for value in stat.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def load_average():
    with open("/proc/loadavg") as loadavg:
        return " ".join(loadavg.read().split()[:3])


def machine_line():
    model = "unknown CPU"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (f"machine: {os.cpu_count()} vCPUs ({model}), shared by server(s) and clients over "
            f"loopback; load average before the run {load_average()}")


def scrape(url):
    """Prometheus text of `url` as {series (name + labels): value}."""
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    series = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            series[name] = float(value)
    return series


def metric_sum(url, name):
    """The sum of every series of metric `name` (all label values)."""
    return sum(value for series, value in scrape(url).items()
               if series == name or series.startswith(name + "{"))


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Servers:
    """Processes started for one benchmark; a context manager that stops them all."""

    def __init__(self, binary):
        self.binary = os.path.abspath(binary)
        if not os.access(self.binary, os.X_OK):
            raise SystemExit(f"no imctl binary at {self.binary}: swift build -c release")
        self.logs = tempfile.mkdtemp(prefix="imctl-bench-")
        self.started = []  # (name, Popen), in start order
        self.pids = {}
        self.address = {}  # "comet.tcp", "logic.http", ... -> HOST:PORT
        self.metrics_url = None  # the comet's /metrics (logic's in serve all)
        self.job_metrics_url = None  # job's /metrics (serve all: the same page as the comet's)
        self.comet_pid = None
        self.description = ""

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.stop()
        return False

    def start(self, name, arguments, environment=None):
        log = open(os.path.join(self.logs, f"{name}.log"), "w")
        process = subprocess.Popen(arguments, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=environment)
        log.close()
        self.started.append((name, process))
        self.pids[name] = process.pid
        return process

    def wait_for(self, name, pattern, timeout=30):
        """The first match of `pattern` in NAME's log (waits up to `timeout` seconds)."""
        process = dict(self.started)[name]
        path = os.path.join(self.logs, f"{name}.log")
        deadline = time.time() + timeout
        while time.time() < deadline:
            with open(path) as log:
                match = re.search(pattern, log.read())
            if match:
                return match
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited: {self.tail(name)}")
            time.sleep(0.05)
        raise RuntimeError(f"{name} did not log {pattern!r} in {timeout} s: {self.tail(name)}")

    def listening(self, name, proto):
        return self.wait_for(name, rf"listening address=([\d.]+:\d+) proto={proto}\b").group(1)

    def tail(self, name):
        with open(os.path.join(self.logs, f"{name}.log")) as log:
            return " | ".join(log.read().splitlines()[-3:])

    def stop(self):
        for _, process in reversed(self.started):
            if process.poll() is None:
                process.terminate()
        for name, process in reversed(self.started):
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.started = []
        shutil.rmtree(self.logs, ignore_errors=True)

    # --- serve all -------------------------------------------------------------------------

    def start_all(self, extra=()):
        arguments = [self.binary, "serve", "all", "--tcp", "127.0.0.1:0", "--ws", "127.0.0.1:0",
                     "--http", "127.0.0.1:0", "--log-level", "info", *extra]
        self.start("all", arguments)
        self.address["comet.tcp"] = self.listening("all", "tcp")
        self.address["logic.http"] = self.listening("all", "http")
        self.metrics_url = f"http://{self.address['logic.http']}/metrics"
        self.job_metrics_url = self.metrics_url
        self.comet_pid = self.pids["all"]
        self.description = "imctl serve all " + " ".join(extra)
        return self

    # --- distributed -----------------------------------------------------------------------

    def start_cluster(self, job_extra=(), comet_extra=()):
        """Broker, router, logic, comet (server id 1, --metrics) and job, each a process."""
        environment = dict(os.environ)
        environment.update(kafka_test_broker_environment())
        library = environment["IMCTL_RDKAFKA_LIBDIR"]
        environment["LD_LIBRARY_PATH"] = library + (
            ":" + environment["LD_LIBRARY_PATH"] if environment.get("LD_LIBRARY_PATH") else "")

        kafka = f"127.0.0.1:{free_port()}"
        self.start("kafka", [environment["IMCTL_TANSU"], "broker", "--listener-url",
                             f"tcp://{kafka}", "--advertised-listener-url", f"tcp://{kafka}",
                             "--storage-engine", "memory://tansu/"], environment)
        wait_for_port(kafka)
        subprocess.run([environment["IMCTL_TANSU"], "topic", "create", "--broker",
                        f"tcp://{kafka}", "--partitions", "4", "goim-push-topic"],
                       check=True, capture_output=True, env=environment)
        queue = f"kafka://{kafka}/goim-push-topic?session.timeout.ms=6000"

        imctl = [self.binary, "serve"]
        quiet = ["--log-level", "info"]
        self.start("router", imctl + ["router", "--rpc", "127.0.0.1:0", "--loops", "1"] + quiet)
        router = self.listening("router", "rpc")
        self.start("logic", imctl + ["logic", "--rpc", "127.0.0.1:0", "--http", "127.0.0.1:0",
                                     "--router", f"1={router}", "--queue", queue,
                                     "--loops", "1"] + quiet, environment)
        logic_rpc = self.listening("logic", "rpc")
        self.address["logic.http"] = self.listening("logic", "http")
        self.start("comet", imctl + ["comet", "--server-id", "1", "--tcp", "127.0.0.1:0",
                                     "--ws", "127.0.0.1:0", "--rpc", "127.0.0.1:0",
                                     "--logic-rpc", logic_rpc, "--metrics", "127.0.0.1:0",
                                     *comet_extra] + quiet)
        self.address["comet.tcp"] = self.listening("comet", "tcp")
        self.metrics_url = f"http://{self.listening('comet', 'metrics')}/metrics"
        self.comet_pid = self.pids["comet"]
        self.start("job", imctl + ["job", "--logic-rpc", logic_rpc, "--queue", queue,
                                   "--loops", "1", "--metrics", "127.0.0.1:0",
                                   *job_extra] + quiet, environment)
        self.job_metrics_url = f"http://{self.listening('job', 'metrics')}/metrics"
        self.wait_for("job", "comets loaded", timeout=60)
        self.description = ("distributed: imctl serve router | logic | comet | job "
                            + " ".join(job_extra) + " (--loops 1 except comet), Kafka test "
                            "broker (tansu, memory storage, 4 partitions)")
        return self

    def other_pids(self):
        """Every started process but the comet (serve all: none)."""
        return [pid for name, pid in self.pids.items() if pid != self.comet_pid]


def kafka_test_broker_environment():
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts",
                          "kafka-test-broker")
    output = subprocess.run([script], check=True, capture_output=True, text=True).stdout
    values = {}
    for line in output.splitlines():
        key, _, value = line.partition("=")
        values[key] = shlex.split(value)[0] if value else ""
    return values


def wait_for_port(address, timeout=30):
    host, port = address.rsplit(":", 1)
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {address}")


def add_server_arguments(parser):
    parser.add_argument("--server", choices=["all", "distributed"], default="all",
                        help="serve all in one process, or router/logic/comet/job processes")
    parser.add_argument("--binary", default=".build/release/imctl")


def start_servers(args, job_extra=(), comet_extra=()):
    """Servers for `--server`: job_extra goes to job (serve all takes it too)."""
    servers = Servers(args.binary)
    try:
        if args.server == "all":
            return servers.start_all([*job_extra, *comet_extra])
        return servers.start_cluster(job_extra, comet_extra)
    except BaseException:
        servers.stop()
        raise
