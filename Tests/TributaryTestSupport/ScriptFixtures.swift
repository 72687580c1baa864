import Foundation

/// `Fixtures/helm-standin.py`: checks `helm template`'s arguments and prints a ConfigMap per
/// template; Helm itself cannot be installed on these machines.
public enum HelmStandIn {
    public static var path: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/helm-standin.py").path
    }
}

/// `Fixtures/dashboard-browser.py`: drives the dashboard in headless Chromium.
public enum DashboardBrowser {
    public static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/dashboard-browser.py").path
    }

    /// Where test runs leave screenshots: `.build/test-artifacts` in the package.
    public static var artifacts: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/test-artifacts")
    }
}

/// `Fixtures/openapi-check.py`: validates real responses against an OpenAPI document (jsonschema).
public enum OpenAPICheck {
    public static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/openapi-check.py").path
    }
}
