/// Arithmetic on sizes and offsets that come from clients or from what clients stored (Range
/// headers, SLO manifests, Content-Length): it clamps at the ends of `Int64` instead of
/// trapping, for places where an out-of-range value only has to stay out of range.
extension Int64 {
    /// `self + other`, clamped to `Int64.min...Int64.max`.
    public func clampedAdding(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        guard overflow else { return sum }
        return other > 0 ? .max : .min
    }

    /// `self - other`, clamped to `Int64.min...Int64.max`.
    public func clampedSubtracting(_ other: Int64) -> Int64 {
        let (difference, overflow) = subtractingReportingOverflow(other)
        guard overflow else { return difference }
        return other > 0 ? .min : .max
    }
}
