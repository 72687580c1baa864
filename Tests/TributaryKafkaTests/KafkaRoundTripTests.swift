import Foundation
import Testing
@testable import TributaryKafka
import TributaryTestSupport

@Suite("Producing and consuming over TCP")
struct KafkaRoundTripTests {
    let cluster: TestCluster

    init() throws {
        self.cluster = try TestCluster()
    }

    @Test func roundTripPreservesKeyHeadersAndValueAndReportsWhereItWasStored() async throws {
        let topic = try await self.cluster.makeTopic("roundtrip")
        let producer = try self.cluster.makeProducer()
        let message = KafkaProducerMessage(
            topic: topic,
            key: "github.com/acme/infra",
            value: Array("{\"hello\":\"kafka\"}".utf8),
            headers: [
                KafkaHeader(key: "ce_id", value: "1"),
                KafkaHeader(key: "binary", value: [0, 255, 7]),
                KafkaHeader(key: "null", value: nil),
                KafkaHeader(key: "ce_id", value: "repeated"),
            ]
        )
        let report = try await producer.deliver(message)
        #expect(report.topic == topic)
        #expect((0..<6).contains(report.partition.rawValue))
        #expect(report.offset == KafkaOffset(0))

        let consumer = try self.cluster.makeConsumer(group: TestCluster.uniqueGroup("roundtrip"), topics: [topic])
        var iterator = consumer.messages.makeAsyncIterator()
        let received = try #require(try await iterator.next())
        #expect(received.topic == topic)
        #expect(received.keyString == "github.com/acme/infra")
        #expect(received.value == message.value)
        #expect(received.headers == message.headers)
        #expect(received.partition == report.partition)
        #expect(received.offset == report.offset)
        #expect(received.timestamp != nil)
        await consumer.close()
        await producer.shutdown()
    }

    /// What `tributary create-topics` does on a real cluster (the embedded broker has no CreateTopics).
    @Test(.enabled(if: !TestCluster.isEmbedded, "the embedded broker has no CreateTopics API")) func createTopicsMakesCompactedTopicsAndLeavesExistingOnesAlone() async throws {
        let administrator = KafkaAdministrator(configuration: self.cluster.kafkaConfiguration, logger: self.cluster.logger)
        let name = "test.admin.\(UUID().uuidString.prefix(8).lowercased())"
        try await administrator.createTopics([name], partitions: 3, configs: ["cleanup.policy": "compact"])
        try await administrator.createTopics([name], partitions: 5)  // exists: left as it is, no error
        let producer = try self.cluster.makeProducer()
        let counts = try await producer.partitionCounts(timeout: .seconds(10))
        #expect(counts[name] == 3)
    }

    @Test func deliveryReportsCarryThePartitionAndConsecutiveOffsets() async throws {
        let topic = try await self.cluster.makeTopic("offsets")
        let producer = try self.cluster.makeProducer()
        var offsets: [KafkaOffset] = []
        for index in 0..<3 {
            let report = try await producer.deliver(KafkaProducerMessage(topic: topic, partition: KafkaPartition(4), value: [UInt8(index)]))
            #expect(report.partition == KafkaPartition(4))
            offsets.append(report.offset)
        }
        #expect(offsets == [KafkaOffset(0), KafkaOffset(1), KafkaOffset(2)])
        await producer.shutdown()
    }

    @Test func equalKeysLandOnOnePartition() async throws {
        let topic = try await self.cluster.makeTopic("keys")
        let producer = try self.cluster.makeProducer()
        var partitions = Set<KafkaPartition>()
        for index in 0..<10 {
            let report = try await producer.deliver(KafkaProducerMessage(topic: topic, key: "github.com/acme/one", value: [UInt8(index)]))
            partitions.insert(report.partition)
        }
        #expect(partitions.count == 1)
        await producer.shutdown()
    }

    @Test func keysLandWhereKafkaPartitionerSaysTheJavaClientWouldPutThem() async throws {
        let topic = try await self.cluster.makeTopic("partitioner", partitions: 7)
        let producer = try self.cluster.makeProducer()
        for key in ["github.com/acme/infra", "127.0.0.1/infra", "a", "ab", "abc", "gitlab.example.com/group/sub/project"] {
            let report = try await producer.deliver(KafkaProducerMessage(topic: topic, key: key, value: [1]))
            #expect(report.partition == KafkaPartitioner.partition(forKey: key, partitionCount: 7), "key \(key)")
        }
        await producer.shutdown()
        // Kafka's own test vectors for murmur2 (UtilsTest), as signed 32-bit integers.
        #expect(Int32(bitPattern: KafkaPartitioner.murmur2(Array("21".utf8))) == -973_932_308)
        #expect(Int32(bitPattern: KafkaPartitioner.murmur2(Array("foobar".utf8))) == -790_332_482)
    }

    @Test(.enabled(if: TestCluster.isEmbedded, "injects a fault through the embedded broker")) func shutdownDeliversEveryMessageStillInFlight() async throws {
        let broker = try #require(self.cluster.embedded, "needs the embedded broker to slow it down")
        let topic = try await self.cluster.makeTopic("flush")
        // Every broker response takes 300 ms, so the messages are surely in flight at shutdown.
        broker.setBrokerRoundTripTime(.milliseconds(300))
        let producer = try self.cluster.makeProducer()
        for index in 0..<500 {
            try producer.send(KafkaProducerMessage(topic: topic, key: "k\(index % 7)", value: Array("m\(index)".utf8)))
        }
        #expect(producer.inFlightCount > 0)
        await producer.shutdown()
        #expect(producer.inFlightCount == 0)
        #expect(throws: KafkaError.self) { try producer.send(KafkaProducerMessage(topic: topic, value: [1])) }
        broker.setBrokerRoundTripTime(.zero)

        let consumer = try self.cluster.makeConsumer(group: TestCluster.uniqueGroup("flush"), topics: [topic])
        var values = Set<String>()
        for try await message in consumer.messages {
            values.insert(String(decoding: message.value ?? [], as: UTF8.self))
            if values.count == 500 { break }
        }
        #expect(values == Set((0..<500).map { "m\($0)" }))
        await consumer.close()
    }

    @Test(.enabled(if: TestCluster.isEmbedded, "injects a fault through the embedded broker")) func deliveryToAnUnreachableBrokerFailsWithARetriableTimeout() async throws {
        let broker = try #require(self.cluster.embedded, "needs the embedded broker to take it down")
        let topic = try await self.cluster.makeTopic("down")
        let producer = try self.cluster.makeProducer { $0.messageTimeout = .seconds(1) }
        // The first delivery also connects and obtains the idempotent producer id; on a loaded
        // machine that can take longer than the 1 s message timeout, so allow a few tries.
        var connected = false
        for _ in 0..<10 where !connected {
            connected = (try? await producer.deliver(KafkaProducerMessage(topic: topic, value: [1]))) != nil
        }
        try #require(connected)
        broker.setBrokerDown()
        let error = await #expect(throws: KafkaError.self) {
            _ = try await producer.deliver(KafkaProducerMessage(topic: topic, value: [2]))
        }
        #expect(error?.code == .timedOut)
        #expect(error?.isRetriable == true)
        broker.setBrokerUp()
        // As a webhook sender would: retry until the reconnected broker acknowledges.
        var report: KafkaDeliveryReport?
        for _ in 0..<20 where report == nil {
            report = try? await producer.deliver(KafkaProducerMessage(topic: topic, partition: KafkaPartition(0), value: [3]))
        }
        #expect(report?.partition == KafkaPartition(0))
        await producer.shutdown()
    }

    /// A broker that restarted without its producer state (Tansu did) refuses the producer's epoch
    /// for good; the producer must go on under a new producer id instead of failing forever.
    @Test(.enabled(if: TestCluster.isEmbedded, "injects a fault through the embedded broker")) func aFencedProducerIsReplacedAndTheNextRecordGoesThrough() async throws {
        let broker = try #require(self.cluster.embedded, "needs the embedded broker to refuse produce requests")
        let topic = try await self.cluster.makeTopic("fenced")
        let producer = try self.cluster.makeProducer()
        _ = try await producer.deliver(KafkaProducerMessage(topic: topic, partition: KafkaPartition(0), value: [0]))
        broker.failNextProduceRequests(1, errorCode: 47)  // INVALID_PRODUCER_EPOCH
        let error = await #expect(throws: KafkaError.self) {
            _ = try await producer.deliver(KafkaProducerMessage(topic: topic, partition: KafkaPartition(0), value: [1]))
        }
        #expect(error.map(KafkaProducer.needsNewClient) == true)
        #expect(producer.replacements == 1)
        let report = try await producer.deliver(KafkaProducerMessage(topic: topic, partition: KafkaPartition(0), value: [2]))
        #expect(report.offset == KafkaOffset(1))
        #expect(producer.replacements == 1)
        await producer.shutdown()
        #expect(producer.inFlightCount == 0)
    }

    @Test func rejectedPropertyIsNamedWithoutItsSecretValue() throws {
        var configuration = KafkaProducerConfiguration(kafka: self.cluster.kafkaConfiguration)
        configuration.kafka.properties["no.such.property"] = "x"
        let unknown = #expect(throws: KafkaError.self) { try KafkaProducer(configuration: configuration, logger: self.cluster.logger) }
        #expect(unknown?.code == .configuration)
        #expect(unknown?.message.contains("no.such.property") == true)

        configuration.kafka.properties = ["ssl.key.password": "hunter2-secret", "security.protocol": "bogus"]
        let invalid = #expect(throws: KafkaError.self) { try KafkaProducer(configuration: configuration, logger: self.cluster.logger) }
        #expect(invalid?.description.contains("hunter2-secret") == false)
    }

    @Test(.enabled(if: TestCluster.isEmbedded, "injects a fault through the embedded broker")) func shutdownWithAnUnreachableBrokerFailsWaitingDeliveriesInsteadOfHanging() async throws {
        let broker = try #require(self.cluster.embedded, "needs the embedded broker to take it down")
        let topic = try await self.cluster.makeTopic("purge")
        let producer = try self.cluster.makeProducer {
            $0.messageTimeout = .seconds(60)
            $0.flushTimeout = .milliseconds(500)
        }
        _ = try await producer.deliver(KafkaProducerMessage(topic: topic, value: [0]))
        broker.setBrokerDown()
        let pending = Task { try await producer.deliver(KafkaProducerMessage(topic: topic, value: [1])) }
        try await Task.sleep(for: .milliseconds(200))
        await producer.shutdown()
        let result = await pending.result
        #expect(throws: KafkaError.self) { try result.get() }
        broker.setBrokerUp()
    }
}
