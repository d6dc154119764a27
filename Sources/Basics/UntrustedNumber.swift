/// Numbers from outside (headers, vendor JSON, request bodies, Redis replies) turned into `Int`
/// without ever trapping: NaN and infinities are refused, huge values are refused or clamped.
public enum UntrustedNumber {
    /// `value` truncated toward zero when it is finite and within `range`; nil otherwise.
    public static func int(_ value: Double, in range: ClosedRange<Int> = Int.min...Int.max) -> Int? {
        guard value.isFinite, value >= Double(range.lowerBound), value < Double(range.upperBound) + 1 else { return nil }
        // Double(Int.max) rounds up to 2^63, which is already refused above.
        guard let n = Int(exactly: value.rounded(.towardZero)) else { return nil }
        return range.contains(n) ? n : nil
    }

    /// `value` rounded up and clamped into `range`; nil only for NaN (infinities clamp).
    public static func clampedInt(_ value: Double, to range: ClosedRange<Int>) -> Int? {
        if value.isNaN { return nil }
        if value <= Double(range.lowerBound) { return range.lowerBound }
        if value >= Double(range.upperBound) { return range.upperBound }
        return min(range.upperBound, max(range.lowerBound, Int(value.rounded(.up))))
    }

    /// Seconds (possibly fractional, possibly absurd) as milliseconds clamped into `range`;
    /// nil for negative, NaN or unparsable text.
    public static func milliseconds(seconds text: some StringProtocol, clampedTo range: ClosedRange<Int>) -> Int? {
        guard text.utf8.count <= 64, let seconds = Double(text), !seconds.isNaN, seconds >= 0 else { return nil }
        return clampedInt(seconds * 1000, to: range)
    }
}
