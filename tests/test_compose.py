"""Static checks of the docker compose stack (docker-compose.yml, Dockerfile, docker/, .env.example).

Pure and fast: no Docker engine, no network. They keep the stack in step with the pipeline's configuration
(a new key in luigi.cfg without a docker counterpart fails here) and hold the stack to its rules: pinned images,
only the visualiser and MinIO's console published, health checks and depends_on conditions, credentials only
from .env, no secrets in the committed files.
"""
from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
LUIGI_CFG = ROOT / "luigi.cfg"
DOCKER_CFG = ROOT / "docker" / "luigi.docker.cfg"
LUIGID_CFG = ROOT / "docker" / "luigid.cfg"
MYSQL_INIT = ROOT / "docker" / "mysql" / "initdb.d" / "10-winepipe.sh"
SFTP_ENTRYPOINT = ROOT / "docker" / "sftp" / "entrypoint.sh"

# Published (service, container port): the visualiser and MinIO's console, nothing else.
ALLOWED_PUBLISHED = {("luigid", 8082), ("minio", 9001)}
BIND_VARIABLE = "WINEPIPE_BIND_ADDRESS"
# The privileges the pipeline's MySQL account gets on its database (issue #8), no more, no fewer.
PIPELINE_PRIVILEGES = {"SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "INDEX", "ALTER",
                       "CREATE TEMPORARY TABLES", "LOCK TABLES"}
# luigi.cfg keys whose local-stack value must never reach the container: overriding them is mandatory.
DEPLOYMENT_KEY = re.compile(r"host|port|user|password|passphrase|secret|key_file|access_key|known_hosts|url"
                            r"|endpoint|bucket|spark.submit|remote_root|work_dir", re.I)
# Of those, the ones whose local-stack value would be wrong in the stack whatever .env says.
LOCAL_ONLY_KEY = re.compile(r"host|port|password|secret|key_file|access_key|known_hosts|url|endpoint"
                            r"|spark.submit", re.I)
# .env.example variables that hold credentials: their example values must be obviously fake.
SECRET_VARIABLE = re.compile(r"PASSWORD|PASSPHRASE|SECRET|ACCESS_KEY|TOKEN|ROOT_USER")
FAKE_MARKER = "change-me"
INHERITED = re.compile(r"^#\s*inherited from luigi\.cfg:\s*(.+)$")
# Compose interpolation: ${VAR}, ${VAR:-x}, ${VAR-x}, ${VAR:?msg}, ${VAR?msg}, $VAR; $$ is a literal dollar.
COMPOSE_VARIABLE = re.compile(r"(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|([A-Za-z_][A-Za-z0-9_]*))")
CFG_VARIABLE = re.compile(r"\$\{([^}]+)\}")
SUBSTITUTION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


# -- helpers -------------------------------------------------------------------------------------------------------
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def services() -> dict[str, dict]:
    return compose()["services"]


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep, f".env.example: not NAME=value: {line!r}"
        values[name.strip()] = value.strip()
    return values


def environment(service: dict) -> dict[str, str]:
    """A service's environment (mapping or list form) plus the names its env_file entries provide."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    env = {k: "" if v is None else str(v) for k, v in env.items()}
    env_files = service.get("env_file") or []
    for entry in [env_files] if isinstance(env_files, (str, dict)) else env_files:
        path = entry["path"] if isinstance(entry, dict) else entry
        # .env is not committed: .env.example stands for it (it must list the same names).
        source = ENV_EXAMPLE if Path(path).name == ".env" else ROOT / path
        for name, value in _read_env_file(source).items():
            env.setdefault(name, value)
    return env


def _read_env_file(path: Path) -> dict[str, str]:
    if path == ENV_EXAMPLE:
        return env_example()
    return dict(line.partition("=")[::2] for line in path.read_text().splitlines()
                if line.strip() and not line.lstrip().startswith("#"))


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's interpolation of one value, with .env.example standing in for .env."""
    def one(match: re.Match) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        got = variables.get(name)
        if op in (":-", ":?"):
            if got:
                return got
            if op == ":?":
                raise AssertionError(f"compose would refuse to start: {name} is empty ({arg})")
            return arg
        if op in ("-", "?"):
            if got is not None:
                return got
            if op == "?":
                raise AssertionError(f"compose would refuse to start: {name} is unset ({arg})")
            return arg
        assert got is not None, f"{name} is not in .env.example"
        return got
    return SUBSTITUTION.sub(one, value).replace("$$", "$")


def cfg_raw(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str
    parser.read_string(path.read_text(), source=str(path))
    return parser


def norm(key: str) -> str:
    return key.replace("-", "_")


def inherited_keys(path: Path) -> dict[str, set[str]]:
    """Per section, the keys listed on ``# inherited from luigi.cfg:`` lines of ``path``."""
    result: dict[str, set[str]] = {}
    section = None
    for line in path.read_text().splitlines():
        stripped = line.strip()
        header = re.match(r"^\[([^\]]+)\]$", stripped)
        if header:
            section = header.group(1)
            continue
        match = INHERITED.match(stripped)
        if match:
            assert section, f"{path.name}: an inherited-keys line before any section"
            keys = {norm(k.strip()) for k in match.group(1).split(",") if k.strip()}
            result.setdefault(section, set()).update(keys)
    return result


def dockerfile_instructions(path: Path | None = None) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    path = DOCKERFILE if path is None else path
    lines, current = [], ""
    for raw in path.read_text().splitlines():
        stripped = raw.strip()
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        if current.strip():
            word, _, rest = current.strip().partition(" ")
            lines.append((word.upper(), rest.strip()))
        current = ""
    return lines


def one_shot(service: dict) -> bool:
    return str(service.get("restart", "")) == "no"


def pinned(image: str) -> bool:
    """name:tag with a version-like tag (a digit in it), not latest; a digest alone is not enough to read."""
    name, _, _digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        return False
    tag = last.rsplit(":", 1)[1]
    return tag != "latest" and "latest" not in tag and bool(re.search(r"\d", tag)) and "$" not in name


MY_FILES = [COMPOSE, DOCKERFILE, ROOT / ".dockerignore", ENV_EXAMPLE, Path(__file__).resolve(),
            *sorted(p for p in (ROOT / "docker").rglob("*") if p.is_file())]


# -- the pipeline's configuration --------------------------------------------------------------------------------
def cfg_variables(path: Path) -> set[str]:
    """The ${VAR} names in the values of a Luigi config file (comments do not count)."""
    parser = cfg_raw(path)
    return {name for s in parser.sections() for _, v in parser.items(s) for name in CFG_VARIABLE.findall(v)}


_WHOLE_FILE = object()


def compose_strings(node=_WHOLE_FILE) -> list[str]:
    """Every string (keys and values) of the parsed compose file: what compose interpolates, comments excluded."""
    node = compose() if node is _WHOLE_FILE else node
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in compose_strings(k) + compose_strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in compose_strings(v)]
    return [node] if isinstance(node, str) else []


def test_every_variable_of_the_docker_cfg_reaches_the_pipeline():
    wanted = cfg_variables(DOCKER_CFG)
    assert wanted, "docker/luigi.docker.cfg should take its deployment values from ${VAR} references"
    for name in ("pipeline", "cron"):
        env = environment(services()[name])
        missing = sorted(wanted - env.keys())
        assert not missing, f"{name}: docker/luigi.docker.cfg uses {missing}, which the service does not set"
        assert env.get("LUIGI_CONFIG_PATH") == "/app/docker/luigi.docker.cfg", name


def test_every_variable_of_the_luigid_cfg_reaches_luigid():
    wanted = cfg_variables(LUIGID_CFG)
    env = environment(services()["luigid"])
    assert not sorted(wanted - env.keys()), f"luigid lacks {sorted(wanted - env.keys())}"
    assert env.get("LUIGI_CONFIG_PATH") == "/app/docker/luigid.cfg"
    # Outside /app, so luigid does not also read the project's luigi.cfg from its working directory.
    assert services()["luigid"].get("working_dir", "/app") != "/app"
    history = cfg_raw(LUIGID_CFG)
    assert history.getboolean("scheduler", "record_task_history")
    assert history.get("task_history", "db_connection").startswith("mysql+pymysql://")


def test_every_luigi_cfg_key_has_a_docker_counterpart():
    base, docker = cfg_raw(LUIGI_CFG), cfg_raw(DOCKER_CFG)
    inherited = inherited_keys(DOCKER_CFG)
    problems = []
    for section in base.sections():
        base_keys = {norm(k) for k in base.options(section)}
        set_here = {norm(k) for k in docker.options(section)} if docker.has_section(section) else set()
        documented = inherited.get(section, set())
        for key in sorted(base_keys):
            if key not in set_here and key not in documented:
                problems.append(f"[{section}] {key}: set in luigi.cfg but neither set in docker/luigi.docker.cfg "
                                f"nor listed on its '# inherited from luigi.cfg:' line")
            if key in documented and DEPLOYMENT_KEY.search(key):
                problems.append(f"[{section}] {key}: a deployment value must be overridden, not inherited")
            if key in documented and key in set_here:
                problems.append(f"[{section}] {key}: both set and listed as inherited")
        for key in sorted(documented - base_keys):
            problems.append(f"[{section}] {key}: listed as inherited but luigi.cfg does not set it")
    for section in set(inherited) - set(base.sections()):
        problems.append(f"[{section}]: listed as inherited but luigi.cfg has no such section")
    assert not problems, "\n".join(problems)


def test_the_docker_cfg_resolves_with_the_compose_environment(monkeypatch):
    """Luigi's own parser reads luigi.cfg then the override, with the pipeline's environment from compose."""
    from luigi.configuration.cfg_parser import LuigiConfigParser

    variables = env_example()
    env = {k: interpolate(v, variables) for k, v in environment(services()["pipeline"]).items()}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    parser = LuigiConfigParser()
    parser.read([str(LUIGI_CFG), str(DOCKER_CFG)])
    resolved = {(s, k): parser.get(s, k) for s in parser.sections() for k in parser.options(s)}
    assert resolved[("sftp", "host")] == "sftp"
    assert int(resolved[("sftp", "port")]) == 22
    assert resolved[("sftp", "known_hosts")] == "/etc/winepipe/sftp/known_hosts"
    assert resolved[("s3", "endpoint_url")] == "http://minio:9000"
    assert resolved[("s3", "aws_access_key_id")] == variables["WINEPIPE_S3_ACCESS_KEY_ID"]
    assert resolved[("mysql", "host")] == "mysql" and int(resolved[("mysql", "port")]) == 3306
    assert resolved[("mysql", "password")] == variables["WINEPIPE_MYSQL_PASSWORD"]
    assert resolved[("redis", "password")] == variables["WINEPIPE_REDIS_PASSWORD"]
    assert resolved[("core", "scheduler_url")] == "http://luigid:8082/"
    assert resolved[("spark", "spark-submit")] == "spark-submit"
    assert resolved[("transform", "io")] == "local"
    assert resolved[("wine", "bucket")] == variables["WINEPIPE_BUCKET"]
    # Never trust an unknown SFTP host key in the stack.
    assert not parser.has_option("sftp", "accept_unknown_host_key")
    # No local-stack value survives in a deployment key.
    local = cfg_raw(LUIGI_CFG)
    for (section, key), value in resolved.items():
        if LOCAL_ONLY_KEY.search(key) and local.has_option(section, key) and not key.endswith("_env"):
            assert value != local.get(section, key) or value == "", f"[{section}] {key} keeps luigi.cfg's {value!r}"


# -- .env.example and secrets ------------------------------------------------------------------------------------
def test_every_compose_variable_has_a_value_in_env_example():
    used = {a or b for text in compose_strings() for a, b in COMPOSE_VARIABLE.findall(text)}
    example = env_example()
    missing = sorted(used - example.keys())
    assert not missing, f".env.example lacks {missing}"
    empty = sorted(name for name in used if not example.get(name))
    assert not empty, f".env.example has no value for {empty}"
    unused = sorted(example.keys() - used)
    assert not unused, f".env.example sets {unused}, which docker-compose.yml does not use"


def test_env_example_values_are_obviously_fake():
    secrets = {k: v for k, v in env_example().items() if SECRET_VARIABLE.search(k)}
    assert secrets, "no credential variables found in .env.example"
    not_fake = sorted(k for k, v in secrets.items() if FAKE_MARKER not in v)
    assert not not_fake, f"these .env.example credentials must contain {FAKE_MARKER!r}: {not_fake}"


def test_credentials_in_compose_come_from_variables():
    # Every credential-like setting in a service's environment is a required ${VAR:?...}: no literal secrets,
    # no silent defaults.
    for name, service in services().items():
        for key, value in environment(service).items():
            if SECRET_VARIABLE.search(key) or re.search(r"PASSWORD|SECRET", key):
                assert re.fullmatch(r"\$\{[A-Za-z_][A-Za-z0-9_]*:\?[^}]*\}", value), \
                    f"{name}: {key} must be a required ${{VAR:?...}} reference, not {value!r}"


def test_no_secret_or_private_key_in_the_committed_files():
    begin = "-----BEGIN"
    patterns = [re.compile(begin + r"[A-Z ]*PRIVATE KEY"),
                re.compile(r"ssh-(ed25519|rsa) AAAA[0-9A-Za-z+/]{20,}"),
                re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
                re.compile(r"(?i)aws_secret_access_key\s*=\s*(?!\$\{)\S+")]
    local_secrets = [v for s in ("s3", "mysql") for k, v in cfg_raw(LUIGI_CFG).items(s)
                     if re.search("secret|password", k) and not k.endswith("_env") and len(v) > 6 and "$" not in v]
    for path in MY_FILES:
        text = path.read_text(errors="replace")
        if path == Path(__file__).resolve():
            continue  # this file spells the patterns out
        for pattern in patterns:
            assert not pattern.search(text), f"{path.relative_to(ROOT)} matches {pattern.pattern}"
        for secret in local_secrets:
            assert secret not in text, f"{path.relative_to(ROOT)} repeats a luigi.cfg credential"
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".env", ".stack", ".venv", ".git"):
        assert entry in ignored, f".dockerignore must exclude {entry}"


# -- images and builds -------------------------------------------------------------------------------------------
def test_every_image_is_pinned_and_the_pipeline_builds_from_the_dockerfile():
    built = {}
    for name, service in services().items():
        if "build" in service:
            build = service["build"]
            context = build if isinstance(build, str) else build.get("context", ".")
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
            built[name] = ROOT / context / dockerfile
            assert built[name].is_file(), f"{name}: no {built[name]}"
        else:
            assert "image" in service, f"{name}: neither image nor build"
            assert pinned(service["image"]), f"{name}: image {service['image']!r} is not pinned to a version tag"
    assert built.get("pipeline") == DOCKERFILE
    for name, path in built.items():
        for instruction, args in dockerfile_instructions(path):
            if instruction == "FROM":
                image = [a for a in args.split() if not a.startswith("--")][0]
                assert pinned(image), f"{path.relative_to(ROOT)}: FROM {image} is not pinned to a version tag"


def test_the_dockerfile():
    instructions = dockerfile_instructions()
    froms = [args for ins, args in instructions if ins == "FROM"]
    assert len(froms) == 1 and re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", froms[0].split()[0]), froms
    runs = [args for ins, args in instructions if ins == "RUN"]
    assert any("openjdk-17-jre-headless" in r and "apt-get install" in r for r in runs), "no Java runtime"
    pip_installs = []
    for run in runs:
        for command in re.split(r"&&|;|\|\|", run):
            words = shlex.split(command)
            for i in range(len(words) - 1):
                if words[i].endswith("pip") and words[i + 1] == "install" or \
                        words[i] == "-m" and words[i + 1] == "pip" and "install" in words[i + 2:i + 3]:
                    pip_installs.append(words[i:])
    assert len(pip_installs) == 1, f"exactly one pip install expected, found {pip_installs}"
    args = pip_installs[0][pip_installs[0].index("install") + 1:]
    assert args[-2:] == ["-r", "requirements.txt"] and all(a.startswith("--") for a in args[:-2]), \
        f"the only pip install must be of -r requirements.txt (flags allowed): {args}"
    # requirements.txt first, alone, for layer caching; the project after the install.
    order = [(ins, args) for ins, args in instructions if ins in ("COPY", "ADD", "RUN", "USER", "CMD")]
    copy_req = next(i for i, (ins, a) in enumerate(order) if ins == "COPY" and a.split()[0] == "requirements.txt")
    pip = next(i for i, (ins, a) in enumerate(order) if ins == "RUN" and "pip install" in a)
    copy_all = next(i for i, (ins, a) in enumerate(order) if ins == "COPY" and a.split()[0] == ".")
    assert copy_req < pip < copy_all
    users = [a for ins, a in instructions if ins == "USER"]
    assert users and users[-1] not in ("root", "0"), "the image must end as a non-root user"
    cmd = [a for ins, a in instructions if ins == "CMD"][-1]
    assert yaml.safe_load(cmd) == ["luigi", "--module", "tasks", "LoadWine", "--workers", "3"]


# -- ports, health checks, start order, volumes ------------------------------------------------------------------
def _published(service: dict) -> list[tuple[int, str]]:
    """(container port, host address) of every published port."""
    out = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            out.append((int(port["target"]), str(port.get("host_ip", ""))))
            continue
        spec = re.sub(r"\$\{[^}]*\}", "VAR", str(port)).split("/")[0]
        parts = spec.split(":")
        host_ip = str(port).rsplit(":", 2)[0] if len(parts) == 3 else ""
        out.append((int(parts[-1]), host_ip))
    return out


def test_only_the_visualiser_and_the_minio_console_are_published():
    published = set()
    for name, service in services().items():
        assert service.get("network_mode") != "host", f"{name}: host networking publishes everything"
        for target, host_ip in _published(service):
            published.add((name, target))
            assert BIND_VARIABLE in host_ip, f"{name}:{target} must bind to ${{{BIND_VARIABLE}}}"
    assert published == ALLOWED_PUBLISHED
    assert env_example()[BIND_VARIABLE] == "127.0.0.1"


def test_long_running_services_have_health_checks_and_jobs_are_awaited():
    all_services = services()
    awaited = set()
    for name, service in all_services.items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on must use conditions (mapping form)"
        for dep, spec in depends.items():
            assert dep in all_services, f"{name} depends on unknown {dep}"
            condition = (spec or {}).get("condition")
            expected = "service_completed_successfully" if one_shot(all_services[dep]) else "service_healthy"
            assert condition == expected, f"{name} -> {dep}: condition {condition!r}, expected {expected}"
            if one_shot(all_services[dep]):
                awaited.add(dep)
    for name, service in all_services.items():
        if one_shot(service):
            assert name in awaited or name == "pipeline", f"one-shot job {name} is never waited for"
            continue
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name}: long-running service without healthcheck"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert service.get("restart") in ("unless-stopped", "always", "on-failure"), f"{name}: no restart policy"


def test_the_pipeline_waits_for_every_backend():
    depends = services()["pipeline"]["depends_on"]
    for dep in ("sftp", "mysql", "redis", "luigid", "minio-init"):
        assert dep in depends, f"pipeline does not wait for {dep}"


def test_data_lives_in_named_volumes():
    declared = set((compose().get("volumes") or {}).keys())
    data_dirs = {"mysql": "/var/lib/mysql", "minio": "/data", "redis": "/data", "luigid": "/var/lib/luigid"}
    for name, service in services().items():
        for volume in service.get("volumes") or []:
            source, _, rest = (volume if isinstance(volume, str) else
                               f"{volume.get('source', '')}:{volume['target']}").partition(":")
            target = rest.split(":")[0]
            if source.startswith((".", "/")):
                # Bind mounts: only the stack's own committed files, read-only.
                assert source.startswith("./docker/") and volume.endswith(":ro"), f"{name}: bind mount {volume}"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
            if data_dirs.get(name) == target:
                assert source in declared, f"{name}: its data must live in a named volume"
        if name in data_dirs:
            targets = [str(v).split(":")[1] for v in service.get("volumes") or []]
            assert data_dirs[name] in targets, f"{name}: no volume at {data_dirs[name]}"


# -- the services' specifics -------------------------------------------------------------------------------------
def test_mysql_allows_local_infile_and_grants_only_what_the_pipeline_needs():
    mysql = services()["mysql"]
    assert pinned(mysql["image"]) and mysql["image"].startswith("mysql:8.")
    assert "--local-infile=1" in mysql["command"]
    assert "./docker/mysql/initdb.d:/docker-entrypoint-initdb.d:ro" in mysql["volumes"]
    sql = MYSQL_INIT.read_text()
    grants = re.findall(r"GRANT\s+(.+?)\s+ON\s+\\?`\$\{(\w+)\}\\?`\.\*", sql, re.S)
    by_db = {db: {p.strip() for p in " ".join(privs.split()).split(",")} for privs, db in grants}
    assert by_db["WINEPIPE_MYSQL_DATABASE"] == PIPELINE_PRIVILEGES, by_db["WINEPIPE_MYSQL_DATABASE"]
    assert by_db["LUIGID_DB_NAME"] == {"ALL PRIVILEGES"}, by_db["LUIGID_DB_NAME"]
    assert len(grants) == 2, "no other grants"
    env = environment(mysql)
    for name in re.findall(r"\$\{(\w+)(?::\?)?\}", sql):
        assert name in env or name == "MYSQL_ROOT_PASSWORD", f"mysql's init script needs {name}"


def test_sftp_is_key_only_and_the_pipeline_verifies_the_host_key():
    config = SFTP_ENTRYPOINT.read_text()
    for line in ("PasswordAuthentication no", "KbdInteractiveAuthentication no", "AuthenticationMethods publickey",
                 "PermitRootLogin no", "ForceCommand internal-sftp"):
        assert line in config, f"sshd_config lacks {line!r}"
    all_services = services()
    assert all_services["sftp"]["depends_on"]["sftp-keys"]["condition"] == "service_completed_successfully"
    keys_volumes = {v.split(":")[0] for v in all_services["sftp-keys"]["volumes"]}
    pipeline_volumes = {v.split(":")[0]: v for v in all_services["pipeline"]["volumes"]}
    sftp_volumes = {v.split(":")[0] for v in all_services["sftp"]["volumes"]}
    client = "sftp-client-keys"
    assert client in keys_volumes and pipeline_volumes[client].endswith(":ro")
    # The pipeline never mounts the server's private host key.
    assert not (sftp_volumes & set(pipeline_volumes)) - {"sftp-data"}
    env = environment(all_services["pipeline"])
    assert env["WINEPIPE_SFTP_KNOWN_HOSTS"].startswith(pipeline_volumes[client].split(":")[1])


def test_the_cron_wrapper_runs_under_the_cron_profile():
    cron = services()["cron"]
    assert cron.get("profiles") == ["cron"]
    loop = (ROOT / "docker" / "cron-loop.sh").read_text()
    assert "cron/winepipe-cron.sh" in loop and "cron-loop.sh" in " ".join(cron["command"])
    env = environment(cron)
    # The wrapper's default interpreter is .venv/bin/python, which the image does not have.
    assert env["WINEPIPE_PYTHON"] == "python" and env["WINEPIPE_HOME"] == "/app"
    for name, service in services().items():
        if name != "cron":
            assert "cron" not in (service.get("profiles") or []), f"{name} should not need the cron profile"


@pytest.mark.parametrize("path", [p for p in MY_FILES if p.suffix == ".sh"], ids=lambda p: p.name)
def test_shell_scripts_have_a_shebang(path):
    assert path.read_text().startswith("#!/"), path
