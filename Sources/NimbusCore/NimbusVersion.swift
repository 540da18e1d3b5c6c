/// The Nimbus release, reported in `/info` and `--version`.
public enum NimbusVersion {
    public static let string = "0.1.0"
}
