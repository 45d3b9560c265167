#if canImport(Glibc)
import Glibc

@_silgen_name("mallopt") private func mallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif

/// How the process's allocator treats the large arrays a training step frees.
public enum AllocatorTuning {
    /// Keeps freed blocks of up to 1 GiB in the heap for reuse instead of returning them to the
    /// kernel: a training step allocates and frees the same large activation arrays every time,
    /// and glibc's defaults give them back and fault them in again as fresh zeroed pages
    /// (measured: 533 to 464 ms per step of LMBenchmark's transformer). A program that trains
    /// calls it once at start; it changes nothing but where freed memory waits.
    public static func keepFreedMemoryForReuse() {
        #if canImport(Glibc)
        _ = mallopt(-3, 1 << 30)  // M_MMAP_THRESHOLD: serve blocks up to 1 GiB from the heap
        _ = mallopt(-1, 1 << 30)  // M_TRIM_THRESHOLD: keep up to 1 GiB of free heap (macros Swift does not import)
        #endif
    }
}
