"""Istio and Envoy, with configuration from the upstream documentation."""

from __future__ import annotations

from tests.importers.helpers import loop, run, source

SERVICES = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: reviews-v2, namespace: prod}
spec:
  selector: {matchLabels: {app: reviews}}
  template:
    metadata: {labels: {app: reviews, version: v2}}
    spec:
      containers: [{name: reviews, image: docker.io/istio/examples-bookinfo-reviews-v2}]
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: prod}
spec:
  selector: {app: reviews}
  ports: [{port: 9080}]
"""

# https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRetry
RATINGS = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: ratings-route
spec:
  hosts:
  - ratings.prod.svc.cluster.local
  http:
  - route:
    - destination:
        host: ratings.prod.svc.cluster.local
        subset: v1
    retries:
      attempts: 3
      perTryTimeout: 2s
      retryOn: gateway-error,connect-failure,refused-stream
"""

# https://istio.io/latest/docs/reference/config/networking/virtual-service/#HTTPRoute (timeout)
REVIEWS_TIMEOUT = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: my-productpage-rule
  namespace: istio-system
spec:
  hosts:
  - productpage.prod.svc.cluster.local # ignores rule namespace
  http:
  - timeout: 5s
    route:
    - destination:
        host: reviews.prod.svc.cluster.local
"""

# https://istio.io/latest/docs/reference/config/networking/destination-rule/#OutlierDetection
REVIEWS_CB = """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews-cb-policy
  namespace: prod
spec:
  host: reviews.prod.svc.cluster.local
  trafficPolicy:
    connectionPool:
      tcp:
        maxConnections: 100
      http:
        http2MaxRequests: 1000
        maxRequestsPerConnection: 10
    outlierDetection:
      consecutive5xxErrors: 7
      interval: 5m
      baseEjectionTime: 15m
"""

# Shaped after https://www.envoyproxy.io/docs/envoy/latest/configuration/overview/examples
# (static bootstrap) with the route fields of route_components.proto.
ENVOY = """
static_resources:
  listeners:
  - name: listener_0
    address: {socket_address: {address: 0.0.0.0, port_value: 10000}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": "type.googleapis.com/envoy.extensions.filters.network.\
            http_connection_manager.v3.HttpConnectionManager"
          stat_prefix: ingress_http
          route_config:
            name: local_route
            virtual_hosts:
            - name: backend
              domains: ["*"]
              routes:
              - match: {prefix: "/"}
                route:
                  cluster: some_service
                  retry_policy:
                    retry_on: 5xx
                    num_retries: 3
                    per_try_timeout: 2s
  clusters:
  - name: some_service
    connect_timeout: 0.25s
    type: STRICT_DNS
    circuit_breakers:
      thresholds:
      - retry_budget: {budget_percent: {value: 20.0}, min_retry_concurrency: 3}
"""


def test_istio_retries_from_the_reference_example(tmp_path):
    result = run(tmp_path, {"vs.yaml": RATINGS})
    lp = loop(result, "ratings-route-retries")
    assert lp["retry"]["max_retries"] == 3
    assert lp["deadline"] == "2s"
    assert lp["retry"]["retries_on"] == ["transient", "timeout", "overload_rejection"]
    assert lp["retry"]["budget"] == "no"
    # the destination is not imported: a resource for the host stands in
    assert lp["acts_on"] == ["ratings-prod-svc-cluster-local"]
    assert source(result, "ratings-route-retries", "retry.max_retries").line == 14  # attempts: 3


def test_istio_default_retries_when_unset(tmp_path):
    result = run(tmp_path, {"svc.yaml": SERVICES, "vs.yaml": REVIEWS_TIMEOUT})
    timeout = loop(result, "my-productpage-rule-timeout")
    assert timeout["deadline"] == "5s" and timeout["acts_on"] == ["reviews-v2"]
    retries = loop(result, "my-productpage-rule-retries")
    assert retries["retry"]["max_retries"] == 2
    assert retries["deadline"] == "5s"  # perTryTimeout defaults to the route timeout
    assert "transient" in retries["retry"]["retries_on"]
    assert source(result, "my-productpage-rule-retries", "retry.max_retries").default
    assert source(result, "my-productpage-rule-retries", "deadline").default


def test_attempts_zero_disables_retries(tmp_path):
    text = RATINGS.replace("attempts: 3", "attempts: 0")
    result = run(tmp_path, {"vs.yaml": text})
    assert [lp["id"] for lp in result.assessment["loops"]] == []


def test_destination_rule_limits_and_outlier_detection(tmp_path):
    result = run(tmp_path, {"svc.yaml": SERVICES, "dr.yaml": REVIEWS_CB})
    od = loop(result, "reviews-cb-policy-outlier-detection")
    assert od["timescale"] == "5m" and od["actuations"] == ["eject"]
    assert "7 consecutive 5xx" in od["target"] and "10%" in od["target"]  # default max %
    assert od["acts_on"] == ["reviews-v2"]
    pool = loop(result, "reviews-cb-policy-connection-pool")
    assert pool["actuations"] == ["circuit_break"]
    assert "maxConnections 100" in pool["target"]


def test_destination_rule_max_retries_caps_route_retries(tmp_path):
    dr = REVIEWS_CB.replace(
        "maxRequestsPerConnection: 10", "maxRequestsPerConnection: 10\n        maxRetries: 3"
    )
    vs = REVIEWS_TIMEOUT.replace("namespace: istio-system", "namespace: prod")
    result = run(tmp_path, {"svc.yaml": SERVICES, "dr.yaml": dr, "vs.yaml": vs})
    assert loop(result, "my-productpage-rule-retries")["retry"]["budget"] == "yes"


def test_envoy_route_defaults_and_retry_budget(tmp_path):
    result = run(tmp_path, {"envoy.yaml": ENVOY})
    timeout = loop(result, "envoy-backend-0-timeout")
    assert timeout["deadline"] == "15s"  # Envoy's default route timeout
    assert source(result, "envoy-backend-0-timeout", "deadline").default
    retries = loop(result, "envoy-backend-0-retries")
    assert retries["retry"]["max_retries"] == 3
    assert retries["retry"]["budget"] == "yes"
    assert retries["timescale"] == "25ms-250ms"
    assert retries["acts_on"] == ["some_service"]


def test_a_route_timeout_that_is_no_duration_is_warned_of(tmp_path):
    """A timeout the import cannot read is said to be left out, with its file and line;
    "0s", which turns the timeout off, is no loop and no warning."""
    result = run(
        tmp_path, {"vs.yaml": REVIEWS_TIMEOUT.replace("timeout: 5s", "timeout: 60 seconds")}
    )
    assert not [lp for lp in result.assessment["loops"] if lp["id"].endswith("-timeout")]
    (said,) = [str(p) for p in result.problems]
    assert '"60 seconds" is not a positive duration' in said and "vs.yaml:" in said, said
    result = run(
        tmp_path / "off", {"vs.yaml": REVIEWS_TIMEOUT.replace("timeout: 5s", "timeout: 0s")}
    )
    assert result.problems == []
