"""What the impact of an incident counts and what ends it: health checks and platform probes
are no one's traffic; a failing endpoint answering 2xx again is a recovery the log shows when
the app was down, after a deploy, or after a streak of answers."""

from __future__ import annotations

from dataclasses import dataclass

from service.incidents.windows import Window
from service.ingest.access import Access
from service.settings import Settings

# A failing endpoint answering 2xx is a recovery after a deploy went live since the last hit, or
# when every request of the incident's window had failed (the app was down). Otherwise it must
# answer 2xx this many times in a row (no failure of a failing endpoint, no hit between): an
# intermittent failure (one code path of an endpoint) answers 2xx now and then all along.
RECOVERY_STREAK = 10


@dataclass(frozen=True)
class Probes:
    """Requests that are no one's traffic: health checks by path, platform probes by agent."""

    paths: tuple[str, ...] = ("/health", "/healthz")
    agents: tuple[str, ...] = ("Render/1.0", "kube-probe")

    def match(self, access: Access) -> bool:
        """Return True if the request is a health check or a platform probe."""
        path = access.path
        for probe in self.paths:
            if path.endswith(probe) and (len(path) == len(probe) or probe.startswith("/")):
                return True
        agent = access.agent
        return bool(agent) and any(probe in agent for probe in self.agents)


def probes_from(settings: Settings) -> Probes:
    """Return the probes the settings name."""
    return Probes(paths=settings.probe_path_list, agents=settings.probe_agent_list)


def recovery(window: Window) -> str | None:
    """Return why a failing endpoint's 2xx answer is a recovery, or None if it is not one."""
    if window.live_at is not None:
        return ""  # after the deploy that went live since the last hit
    counts = window.counts
    if counts.requests and counts.requests == counts.failed:
        noun = "request" if counts.requests == 1 else "requests"
        return f", the first answer after {counts.requests} failed {noun}"
    if window.streak + 1 >= RECOVERY_STREAK:
        return (
            f" at {window.streak_from:%H:%M:%S}, and the failing endpoints answered 2xx"
            f" {window.streak + 1} times in a row from then on"
        )
    return None
