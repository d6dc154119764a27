/// What changed between two versions of a tenant's rules, in words, for the change log.
public enum RulesDiff {
    /// One line per changed setting; "created" when there was no earlier version.
    public static func describe(before: RoutingRules?, after: RoutingRules) -> [String] {
        guard let before else { return ["first version"] }
        var out: [String] = []
        func note(_ name: String, _ a: String, _ b: String) { if a != b { out.append("\(name) \(a) → \(b)") } }
        note("timeZone", before.timeZone, after.timeZone)
        note("ownerField", before.ownerField, after.ownerField)
        note("tierField", before.tierField, after.tierField)
        note("defaultDialer", before.defaultDialer, after.defaultDialer)
        note("preferredDialer", before.preferredDialer, after.preferredDialer)
        note("loadBalancing", String(before.loadBalancing), String(after.loadBalancing))
        note("dialers", before.dialers.map(\.id).sorted().joined(separator: ","), after.dialers.map(\.id).sorted().joined(separator: ","))
        for (name, old, new) in [("owner", before.ownerRoutes, after.ownerRoutes), ("tier", before.tierRoutes, after.tierRoutes)] {
            for key in Set(old.keys).union(new.keys).sorted() where old[key] != new[key] {
                out.append("\(name) '\(key)': \(old[key] ?? "none") → \(new[key] ?? "none")")
            }
        }
        if before.timeRules != after.timeRules { out.append("time rules: \(before.timeRules.count) → \(after.timeRules.count) rules changed") }
        if before.menu != after.menu { out.append("menu changed") }
        if before.dialers != after.dialers && out.allSatisfy({ !$0.hasPrefix("dialers") }) { out.append("dialer targets changed") }
        return out
    }
}
