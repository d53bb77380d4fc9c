import Foundation

/// Programs some tests drive: shells, groff, Python packages, Chromium. `scripts/test`
/// installs them (`scripts/install-deps --test`). A test whose tool is missing fails, saying
/// so, unless the caller opted out explicitly with `IMCTL_SKIP_MISSING_TOOLS=1`; then it is
/// skipped, and the skip is reported under the tool's name.
public enum ExternalTool {
    public static let skipVariable = "IMCTL_SKIP_MISSING_TOOLS"

    public static var isSkipRequested: Bool {
        ProcessInfo.processInfo.environment[skipVariable] == "1"
    }

    /// Whether a test that needs a tool runs: the tool is there, or nobody opted out (then it
    /// runs and fails on the missing tool).
    public static func shouldRun(whenAvailable available: Bool) -> Bool {
        available || !isSkipRequested
    }

    /// The message of a failure for a missing `tool`.
    public static func missing(_ tool: String) -> String {
        "\(tool) is not installed: run scripts/install-deps --test (or set \(skipVariable)=1)"
    }
}
