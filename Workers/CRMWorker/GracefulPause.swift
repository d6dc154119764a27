import ServiceLifecycle

/// Waits `ms` milliseconds, or less when the process is asked to shut down (SIGTERM), so a
/// service's loop sees the shutdown at once instead of after its next round.
func gracefulPause(ms: Int) async {
    _ = try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(ms)) }
}
