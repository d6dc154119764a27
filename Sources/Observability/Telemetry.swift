import Logging
import Metrics
import Prometheus

/// Process-wide logging and metrics set-up; call once, first thing in `main`.
public enum Telemetry {
    /// Bootstraps swift-log (stderr, at `logLevel`) and swift-metrics (Prometheus); returns the
    /// registry that `/metrics` renders.
    public static func bootstrap(logLevel: String) -> PrometheusCollectorRegistry {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
            .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(300), .seconds(3600),
        ]
        // The router's decision time, fine-grained below a millisecond (its p99 goal is 1 ms).
        factory.durationHistogramBuckets["switchboard_route_decision_seconds"] =
            [50, 100, 150, 200, 250, 300, 400, 500, 600, 700, 800, 900, 1000, 1250, 1500, 2000, 3000, 5000, 10_000, 50_000, 250_000, 1_000_000,
             2_000_000].map { .microseconds($0) }
        MetricsSystem.bootstrap(factory)
        return registry
    }
}

/// The registry a process's `/metrics` renders (what `Telemetry.bootstrap` returns; tests make their own).
public typealias MetricsRegistry = PrometheusCollectorRegistry
