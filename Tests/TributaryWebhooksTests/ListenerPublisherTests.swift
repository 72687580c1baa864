import Foundation
import Testing
import TributaryKafka
import TributaryTestSupport
@testable import TributaryWebhooks

@Suite("The listener's two Kafka lanes")
struct ListenerPublisherTests {
    @Test func fewInFlightGoOutAtOnceAndManyAreBatched() {
        #expect(ListenerPublisher.usesImmediate(inFlight: 0))
        #expect(ListenerPublisher.usesImmediate(inFlight: ListenerPublisher.immediateLimit - 1))
        #expect(!ListenerPublisher.usesImmediate(inFlight: ListenerPublisher.immediateLimit))
    }

    /// A burst of concurrent records spills onto the batching producer; every one is acknowledged and
    /// on the topic once.
    @Test func aBurstIsDeliveredOnceThroughBothProducers() async throws {
        let cluster = try TestCluster()
        let topic = try await cluster.makeTopic("lanes")
        let publisher = ListenerPublisher(immediate: try cluster.makeProducer { $0.linger = .zero }, batching: try cluster.makeProducer())
        #expect(publisher.producers.count == 2)
        #expect(ListenerPublisher(publisher.immediate).producers.count == 1)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                group.addTask { _ = try await publisher.deliver(KafkaProducerMessage(topic: topic, key: "k\(index % 5)", value: Array("r\(index)".utf8))) }
            }
            try await group.waitForAll()
        }
        for producer in publisher.producers { await producer.shutdown() }
        let consumer = try cluster.makeConsumer(group: TestCluster.uniqueGroup("lanes"), topics: [topic])
        var values: [String] = []
        for try await message in consumer.messages {
            values.append(String(decoding: message.value ?? [], as: UTF8.self))
            if values.count == 200 { break }
        }
        await consumer.close()
        #expect(values.sorted() == (0..<200).map { "r\($0)" }.sorted())
    }
}
