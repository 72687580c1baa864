/// The partition a keyed message goes to under the default `murmur2_random` partitioner — the
/// Java client's `murmur2(key) & 0x7fffffff % partitions`. Consumers use it to know which
/// partition, and so which group member, owns a key before any message arrives.
public enum KafkaPartitioner {
    public static func partition(forKey key: [UInt8], partitionCount: Int) -> KafkaPartition {
        precondition(partitionCount > 0, "a topic has at least one partition")
        return KafkaPartition(Int(Self.murmur2(key) & 0x7fff_ffff) % partitionCount)
    }

    public static func partition(forKey key: String, partitionCount: Int) -> KafkaPartition {
        Self.partition(forKey: Array(key.utf8), partitionCount: partitionCount)
    }

    /// MurmurHash2, 32-bit, with Kafka's seed.
    static func murmur2(_ data: [UInt8]) -> UInt32 {
        let m: UInt32 = 0x5bd1_e995
        var hash: UInt32 = 0x9747_b28c ^ UInt32(truncatingIfNeeded: data.count)
        let whole = data.count & ~3
        var index = 0
        while index < whole {
            var k = UInt32(data[index]) | UInt32(data[index + 1]) << 8 | UInt32(data[index + 2]) << 16 | UInt32(data[index + 3]) << 24
            k = k &* m
            k ^= k >> 24
            k = k &* m
            hash = hash &* m
            hash ^= k
            index += 4
        }
        switch data.count & 3 {
        case 3:
            hash ^= UInt32(data[whole + 2]) << 16
            hash ^= UInt32(data[whole + 1]) << 8
            hash ^= UInt32(data[whole])
            hash = hash &* m
        case 2:
            hash ^= UInt32(data[whole + 1]) << 8
            hash ^= UInt32(data[whole])
            hash = hash &* m
        case 1:
            hash ^= UInt32(data[whole])
            hash = hash &* m
        default:
            break
        }
        hash ^= hash >> 13
        hash = hash &* m
        hash ^= hash >> 15
        return hash
    }
}
