import Testing
import TributaryKafka

@Suite("Skipped offsets")
struct KafkaSkippedOffsetsTests {
    func message(_ offset: Int, partition: Int = 0) -> KafkaConsumerMessage {
        KafkaConsumerMessage(topic: "t", partition: KafkaPartition(partition), offset: KafkaOffset(offset), key: nil, value: nil, headers: [], timestamp: nil)
    }

    @Test func offsetsPastASkippedMessageWaitForItsRedelivery() {
        let gate = KafkaSkippedOffsets()
        #expect(gate.mayStore(self.message(4)))
        gate.skip(self.message(5))  // partition briefly revoked
        #expect(!gate.mayStore(self.message(6)))  // buffered from before: must not commit past 5
        #expect(gate.mayStore(self.message(3, partition: 1)))  // other partitions are unaffected
        #expect(gate.mayStore(self.message(5)))  // redelivered and processed
        #expect(gate.mayStore(self.message(6)))
    }
}
