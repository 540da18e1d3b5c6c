/// DescribeRegions and DescribeAvailabilityZones: this cloud is one region with its zones.
enum RegionActions {
    static func describeRegions(_ call: EC2Call) async throws -> [EC2XML.Node] {
        let region = call.settings.region
        let wanted = call.request.list("RegionName")
        guard wanted.allSatisfy({ $0 == region }) else {
            throw EC2Error("InvalidParameterValue", "Invalid region: \(wanted.first { $0 != region } ?? "")")
        }
        return [.set("regionInfo", [[.text("regionName", region), .text("regionEndpoint", call.endpoint),
                                     .text("optInStatus", "opt-in-not-required")]])]
    }

    static func describeAvailabilityZones(_ call: EC2Call) async throws -> [EC2XML.Node] {
        let zones = call.settings.zones
        let wanted = call.request.list("ZoneName")
        if let unknown = wanted.first(where: { !zones.contains($0) }) {
            throw EC2Error("InvalidParameterValue", "The zone '\(unknown)' does not exist.")
        }
        let shown = wanted.isEmpty ? zones : wanted
        return [.set("availabilityZoneInfo", shown.map { zone in
            [.text("zoneName", zone), .text("zoneState", "available"), .text("regionName", call.settings.region),
             .text("zoneType", "availability-zone")]
        })]
    }
}
