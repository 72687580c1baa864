import CJemalloc

/// The process's allocator: jemalloc, linked by the `CJemalloc` target. glibc's malloc, with its
/// per-thread arenas and consolidation of freed chunks, took a fifth of the listener's CPU time per
/// webhook; jemalloc is also what the Swift on Server guides recommend for Linux services.
enum Allocator {
    /// `jemalloc <version>`, or `nil` when another allocator serves `malloc`. Calling `mallctl`
    /// also keeps the library linked where the linker drops libraries nothing refers to.
    static var description: String? {
        var version: UnsafePointer<CChar>?
        var length = MemoryLayout<UnsafePointer<CChar>?>.size
        guard mallctl("version", &version, &length, nil, 0) == 0, let version else { return nil }
        return "jemalloc \(String(cString: version))"
    }
}
