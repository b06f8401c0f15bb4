"""Service mesh and proxies: Istio Gateway, VirtualService and DestinationRule, and Envoy
route and cluster configuration.

Defaults: an Istio HTTP route without `retries` still retries twice on
connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes (503), and has no
request timeout; perTryTimeout defaults to the route timeout (istio.io, VirtualService
reference; istio/istio#30611). Outlier detection: consecutive5xxErrors 5, interval 10s,
baseEjectionTime 30s, maxEjectionPercent 10 (istio.io, DestinationRule reference). Envoy:
route timeout 15s, num_retries 1, retry back-off 25ms base and 10x that at most,
circuit_breakers max_retries 3 (envoyproxy.io, route_components.proto, circuit_breaker.proto).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from expert.importers.model import (
    Snake,
    Source,
    Upstream,
    at,
    duration_ms,
    fmt_ms,
    given_duration_ms,
    name_of,
    namespace_of,
)
from expert.importers.model import parse_model as parse
from expert.importers.reader import Document
from expert.importers.registry import MESH_POLICY, ROUTES, Context, register

ISTIO_GROUP = "networking.istio.io"
ISTIO_DEFAULT_ATTEMPTS = 2
ISTIO_DEFAULT_RETRY_ON = (
    "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
)
ENVOY_ROUTE_TIMEOUT_MS = 15_000
ENVOY_NUM_RETRIES = 1

# Envoy retry conditions (x-envoy-retry-on, x-envoy-retry-grpc-on) -> failure classes.
# 5xx, gateway-error and reset include a per-try timeout and an upstream's deliberate 503.
RETRY_ON = {
    "5xx": ["transient", "timeout", "overload_rejection"],
    "gateway-error": ["transient", "timeout", "overload_rejection"],
    "reset": ["transient", "timeout"],
    "reset-before-request": ["transient"],
    "connect-failure": ["transient"],
    "refused-stream": ["transient"],
    "http3-post-connect-failure": ["transient"],
    "unavailable": ["transient", "overload_rejection"],
    "cancelled": ["transient"],
    "deadline-exceeded": ["timeout"],
    "resource-exhausted": ["rate_limited", "overload_rejection"],
    "retriable-4xx": ["application_error"],
    "envoy-ratelimited": ["rate_limited"],
    "retriable-status-codes": ["transient", "overload_rejection"],  # Istio's default: 503
    "429": ["rate_limited"],
    "500": ["application_error"],
    "502": ["transient"],
    "503": ["transient", "overload_rejection"],
    "504": ["timeout"],
}


def retries_on(conditions: str) -> list[str]:
    out: list[str] = []
    for cond in conditions.replace(" ", "").split(","):
        for cls in RETRY_ON.get(cond, []):
            if cls not in out:
                out.append(cls)
    return out or ["transient"]


# --------------------------------------------------------------------------------- Istio


class GatewaySpec(Upstream):
    selector: dict[str, str] = Field(default_factory=dict)


@register(MESH_POLICY, ISTIO_GROUP, "Gateway")
def read_gateway(doc: Document, ctx: Context) -> None:
    name = name_of(doc)
    entry = ctx.builder.resource(
        name, "service", f"Istio Gateway {namespace_of(doc)}/{name}", at(doc, ("kind",), "Gateway")
    )
    ctx.services[(namespace_of(doc), f"gateway:{name}")] = [entry.id]


class Destination(Upstream):
    host: str = ""


class RouteDestination(Upstream):
    destination: Destination = Destination()


class Retries(Upstream):
    attempts: int | None = None
    per_try_timeout: str | None = None
    retry_on: str | None = None


class HTTPRoute(Upstream):
    name: str | None = None
    route: list[RouteDestination] = Field(default_factory=list)
    timeout: str | None = None
    retries: Retries | None = None


class VirtualServiceSpec(Upstream):
    hosts: list[str] = Field(default_factory=list)
    gateways: list[str] = Field(default_factory=list)
    http: list[HTTPRoute] = Field(default_factory=list)


class DestinationRuleSpec(Upstream):
    host: str = ""
    traffic_policy: dict[str, Any] | None = None


@register(MESH_POLICY, ISTIO_GROUP, "DestinationRule")
def read_destination_rule(doc: Document, ctx: Context) -> None:
    spec = parse(DestinationRuleSpec, doc.data.get("spec"), doc, ("spec",), ctx)
    if spec is None:
        return
    name, ns = name_of(doc), namespace_of(doc)
    targets = ctx.host(spec.host, ns, doc, ("spec", "host"))
    policy = spec.traffic_policy or {}
    ploc = ("spec", "trafficPolicy")
    http = ((policy.get("connectionPool") or {}).get("http")) or {}
    tcp = ((policy.get("connectionPool") or {}).get("tcp")) or {}
    if isinstance(http.get("maxRetries"), int):
        for rid in targets:
            ctx.retry_caps[rid] = at(
                doc,
                (*ploc, "connectionPool", "http", "maxRetries"),
                f"connectionPool.http.maxRetries {http['maxRetries']} (concurrent retries)",
            )
    limits = {
        **{k: v for k, v in tcp.items() if k == "maxConnections"},
        **{
            k: v
            for k, v in http.items()
            if k in ("http1MaxPendingRequests", "http2MaxRequests", "maxRequestsPerConnection")
        },
    }
    if limits:
        loop = ctx.builder.loop(
            f"{name}-connection-pool",
            f"Connection-pool limits of {spec.host}",
            at(doc, (*ploc, "connectionPool"), "connectionPool"),
        )
        src = at(doc, (*ploc, "connectionPool"), "trafficPolicy.connectionPool")
        loop.put("layer", "safety", src)
        loop.put("objective", "protection", src)
        loop.put("target", ", ".join(f"{k} {v}" for k, v in limits.items()), src)
        loop.put("triggers", ["queue_depth"], src)
        loop.put("actuations", ["circuit_break"], src)
        loop.put("acts_on", targets, at(doc, ("spec", "host"), "spec.host"))
        loop.put("instances", "per_client", src)
    od = policy.get("outlierDetection")
    if isinstance(od, dict):
        oloc = (*ploc, "outlierDetection")
        errors = od.get("consecutive5xxErrors", od.get("consecutiveErrors"))
        gw = od.get("consecutiveGatewayErrors")
        interval = od.get("interval")
        ejection = od.get("baseEjectionTime", "30s")
        pct = od.get("maxEjectionPercent", 10)
        count = (
            f"{errors} consecutive 5xx"
            if errors is not None
            else (
                f"{gw} consecutive gateway errors"
                if gw is not None
                else "5 consecutive 5xx (default)"
            )
        )
        loop = ctx.builder.loop(
            f"{name}-outlier-detection",
            f"Outlier detection for {spec.host}",
            at(doc, oloc, "outlierDetection"),
        )
        src = at(doc, oloc, "trafficPolicy.outlierDetection")
        loop.put("layer", "safety", src)
        loop.put("objective", "protection", src)
        loop.put(
            "target",
            f"{count}; ejects for {ejection}, at most {pct}% of endpoints",
            src,
        )
        ms = duration_ms(interval) if interval is not None else 10_000
        loop.put(
            "timescale",
            fmt_ms(ms or 10_000),
            at(doc, (*oloc, "interval"), "outlierDetection.interval", default=interval is None),
        )
        loop.put("triggers", ["error_rate"], src)
        loop.put("actuations", ["eject"], src)
        loop.put("acts_on", targets, at(doc, ("spec", "host"), "spec.host"))
        loop.put("instances", "per_client", src)


@register(ROUTES, ISTIO_GROUP, "VirtualService")
def read_virtual_service(doc: Document, ctx: Context) -> None:
    spec = parse(VirtualServiceSpec, doc.data.get("spec"), doc, ("spec",), ctx)
    if spec is None:
        return
    name, ns = name_of(doc), namespace_of(doc)
    for j, route in enumerate(spec.http):
        rloc = ("spec", "http", j)
        targets: list[str] = []
        for k, dest in enumerate(route.route):
            for rid in ctx.host(
                dest.destination.host, ns, doc, (*rloc, "route", k, "destination", "host")
            ):
                if rid not in targets:
                    targets.append(rid)
        if not targets:
            continue
        for gw in spec.gateways:
            for rid in ctx.services.get((ns, f"gateway:{gw.split('/')[-1]}"), []):
                ctx.builder.resources[rid].add_to(
                    "calls", targets, at(doc, ("spec", "gateways"), "spec.gateways")
                )
        base = name if len(spec.http) == 1 else f"{name}-{route.name or j}"
        label = f"{name}" + ("" if len(spec.http) == 1 else f" route {route.name or j}")
        timeout_ms = given_duration_ms(
            route.timeout, doc, (*rloc, "timeout"), ctx.problems, "the route's timeout was left out"
        )
        if timeout_ms:
            loop = ctx.builder.loop(
                f"{base}-timeout", f"{label} route timeout", at(doc, (*rloc, "timeout"), "timeout")
            )
            src = at(doc, (*rloc, "timeout"), f"http[{j}].timeout")
            loop.put("layer", "safety", src)
            loop.put("objective", "protection", src)
            loop.put("target", "request duration on the route", src)
            loop.put("timescale", fmt_ms(timeout_ms), src)
            loop.put("triggers", ["timeout"], src)
            loop.put("actuations", ["terminate"], src)
            loop.put("acts_on", targets, at(doc, (*rloc, "route"), "route destination"))
            loop.put("instances", "per_request", src)
            loop.put("deadline", fmt_ms(timeout_ms), src)
        retries = route.retries
        rsrc_loc = (*rloc, "retries")
        attempts = (
            retries.attempts if retries is not None and retries.attempts is not None else None
        )
        if attempts is None:
            attempts = ISTIO_DEFAULT_ATTEMPTS
            attempts_src = at(doc, rloc, "retries.attempts (Istio default 2)", default=True)
        else:
            attempts_src = at(doc, (*rsrc_loc, "attempts"), f"http[{j}].retries.attempts")
        if attempts <= 0:
            continue
        conditions = retries.retry_on if retries is not None and retries.retry_on else None
        on_src = (
            at(doc, (*rsrc_loc, "retryOn"), f"retryOn {conditions}")
            if conditions
            else at(
                doc,
                rsrc_loc if retries else rloc,
                f"retryOn (Istio default {ISTIO_DEFAULT_RETRY_ON})",
                default=True,
            )
        )
        per_try = (
            given_duration_ms(
                retries.per_try_timeout,
                doc,
                (*rsrc_loc, "perTryTimeout"),
                ctx.problems,
                "the per-try timeout was left out",
            )
            if retries is not None
            else None
        )
        loop = ctx.builder.loop(
            f"{base}-retries",
            f"{label} route retries",
            at(doc, rsrc_loc if retries else rloc, "retries"),
        )
        src = at(doc, rsrc_loc if retries else rloc, f"http[{j}].retries")
        loop.put("layer", "runtime", src)
        loop.put("objective", "availability", src)
        loop.put("target", "failed attempts on the route", src)
        loop.put(
            "timescale",
            "25ms-250ms",
            Source(src.file, src.line, True, "Envoy retry back-off (25ms base, Istio default)"),
        )
        loop.put(
            "triggers", ["failure", "timeout"] if (per_try or timeout_ms) else ["failure"], on_src
        )
        loop.put("actuations", ["retry"], src)
        loop.put("acts_on", targets, at(doc, (*rloc, "route"), "route destination"))
        loop.put("instances", "per_request", src)
        if per_try:
            loop.put(
                "deadline",
                fmt_ms(per_try),
                at(doc, (*rsrc_loc, "perTryTimeout"), f"http[{j}].retries.perTryTimeout"),
            )
        elif timeout_ms:
            loop.put(
                "deadline",
                fmt_ms(timeout_ms),
                at(
                    doc,
                    (*rloc, "timeout"),
                    "perTryTimeout (default: the route timeout)",
                    default=True,
                ),
            )
        loop.put("retry.max_retries", min(attempts, 1000), attempts_src)
        loop.put(
            "retry.backoff",
            "exponential",
            Source(src.file, src.line, True, "Envoy retry back-off (exponential, fully jittered)"),
        )
        loop.put(
            "retry.jitter",
            "yes",
            Source(src.file, src.line, True, "Envoy retry back-off (exponential, fully jittered)"),
        )
        caps = [ctx.retry_caps[rid] for rid in targets if rid in ctx.retry_caps]
        if caps:
            loop.put("retry.budget", "yes", caps[0])
        else:
            loop.put(
                "retry.budget",
                "no",
                Source(
                    src.file,
                    src.line,
                    True,
                    "connectionPool.http.maxRetries (Istio default 2^32-1: no cap)",
                ),
            )
        loop.put("retry.retries_on", retries_on(conditions or ISTIO_DEFAULT_RETRY_ON), on_src)


# --------------------------------------------------------------------------------- Envoy


class RetryPolicy(Snake):
    retry_on: str = ""
    num_retries: int | None = None
    per_try_timeout: Any = None
    retry_back_off: dict[str, Any] | None = None


class RouteAction(Snake):
    cluster: str = ""
    timeout: Any = None
    retry_policy: RetryPolicy | None = None


def read_envoy(doc: Document, ctx: Context) -> None:
    """An Envoy bootstrap (static_resources): routes become timeout and retry loops on the
    clusters they send to; a cluster's circuit breakers say whether retries are capped."""
    static = doc.data.get("static_resources") or {}
    clusters: dict[str, str] = {}
    caps: dict[str, Source] = {}
    for i, cluster in enumerate(static.get("clusters") or []):
        if not isinstance(cluster, dict) or not cluster.get("name"):
            continue
        cname = str(cluster["name"])
        entry = ctx.builder.resource(
            cname,
            "service",
            f"Envoy cluster {cname}",
            at(doc, ("static_resources", "clusters", i), "clusters[].name"),
        )
        clusters[cname] = entry.id
        loc = ("static_resources", "clusters", i, "circuit_breakers")
        thresholds = (cluster.get("circuit_breakers") or {}).get("thresholds") or []
        first = thresholds[0] if thresholds and isinstance(thresholds[0], dict) else {}
        if "retry_budget" in first:
            caps[cname] = at(
                doc,
                (*loc, "thresholds", 0, "retry_budget"),
                "circuit_breakers.thresholds[0].retry_budget",
            )
        elif "max_retries" in first:
            caps[cname] = at(
                doc,
                (*loc, "thresholds", 0, "max_retries"),
                f"circuit_breakers max_retries {first['max_retries']}",
            )
        else:
            caps[cname] = at(
                doc,
                ("static_resources", "clusters", i),
                "circuit_breakers max_retries (default 3 concurrent retries)",
                default=True,
            )
    for li, listener in enumerate(static.get("listeners") or []):
        for fci, chain in enumerate((listener or {}).get("filter_chains") or []):
            for fi, filt in enumerate((chain or {}).get("filters") or []):
                config = (filt or {}).get("typed_config") or {}
                vhosts = (config.get("route_config") or {}).get("virtual_hosts") or []
                base = (
                    "static_resources",
                    "listeners",
                    li,
                    "filter_chains",
                    fci,
                    "filters",
                    fi,
                    "typed_config",
                    "route_config",
                    "virtual_hosts",
                )
                for vi, vhost in enumerate(vhosts):
                    for ri, route in enumerate((vhost or {}).get("routes") or []):
                        rloc = (*base, vi, "routes", ri, "route")
                        action = parse(RouteAction, (route or {}).get("route"), doc, rloc, ctx)
                        if action is None or action.cluster not in clusters:
                            continue
                        _envoy_route(
                            doc,
                            ctx,
                            action,
                            rloc,
                            f"{(vhost or {}).get('name', 'vhost')}-{ri}",
                            clusters[action.cluster],
                            caps.get(action.cluster),
                        )


def _envoy_route(
    doc: Document,
    ctx: Context,
    action: RouteAction,
    rloc: tuple[Any, ...],
    label: str,
    rid: str,
    cap: Source | None,
) -> None:
    timeout = (
        given_duration_ms(
            action.timeout,
            doc,
            (*rloc, "timeout"),
            ctx.problems,
            "the route's timeout was left out",
        )
        if action.timeout is not None
        else ENVOY_ROUTE_TIMEOUT_MS
    )
    tsrc = at(
        doc,
        (*rloc, "timeout"),
        "route.timeout" + (" (Envoy default 15s)" if action.timeout is None else ""),
        default=action.timeout is None,
    )
    if timeout:
        loop = ctx.builder.loop(f"envoy-{label}-timeout", f"Envoy route {label} timeout", tsrc)
        loop.put("layer", "safety", tsrc)
        loop.put("objective", "protection", tsrc)
        loop.put("target", "request duration on the route", tsrc)
        loop.put("timescale", fmt_ms(timeout), tsrc)
        loop.put("triggers", ["timeout"], tsrc)
        loop.put("actuations", ["terminate"], tsrc)
        loop.put("acts_on", [rid], tsrc)
        loop.put("instances", "per_request", tsrc)
        loop.put("deadline", fmt_ms(timeout), tsrc)
    policy = action.retry_policy
    if policy is None:
        return
    ploc = (*rloc, "retry_policy")
    n = policy.num_retries if policy.num_retries is not None else ENVOY_NUM_RETRIES
    src = at(doc, ploc, "route.retry_policy")
    loop = ctx.builder.loop(f"envoy-{label}-retries", f"Envoy route {label} retries", src)
    loop.put("layer", "runtime", src)
    loop.put("objective", "availability", src)
    loop.put("target", "failed attempts on the route", src)
    back = policy.retry_back_off or {}
    base_ms = duration_ms(back.get("base_interval")) or 25
    max_ms = duration_ms(back.get("max_interval")) or base_ms * 10
    loop.put(
        "timescale",
        f"{fmt_ms(base_ms)}-{fmt_ms(max_ms)}",
        at(
            doc,
            (*ploc, "retry_back_off"),
            "retry_back_off (default 25ms base, 10x max)",
            default=not back,
        ),
    )
    per_try = duration_ms(policy.per_try_timeout) if policy.per_try_timeout is not None else None
    loop.put("triggers", ["failure", "timeout"], src)
    loop.put("actuations", ["retry"], src)
    loop.put("acts_on", [rid], src)
    loop.put("instances", "per_request", src)
    if per_try:
        loop.put(
            "deadline",
            fmt_ms(per_try),
            at(doc, (*ploc, "per_try_timeout"), "retry_policy.per_try_timeout"),
        )
    elif timeout:
        loop.put(
            "deadline",
            fmt_ms(timeout),
            Source(tsrc.file, tsrc.line, True, "per_try_timeout (default: the route timeout)"),
        )
    loop.put(
        "retry.max_retries",
        min(n, 1000),
        at(
            doc,
            (*ploc, "num_retries"),
            "retry_policy.num_retries",
            default=policy.num_retries is None,
        ),
    )
    loop.put("retry.backoff", "exponential", src)
    loop.put("retry.jitter", "yes", src)
    if cap is not None:
        loop.put("retry.budget", "yes", cap)
    loop.put(
        "retry.retries_on",
        retries_on(policy.retry_on),
        at(doc, (*ploc, "retry_on"), f"retry_on {policy.retry_on}"),
    )
