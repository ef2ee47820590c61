import Foundation
import Testing
@testable import Stack

/// A store whose writes take longer for some states than for others, as S3 round trips do.
final class UnevenStore: StateStore, @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [Int] = []

    var written: [Int] { lock.withLock { counts } }

    func save(_ state: StackState, outputs: [String: String]) async throws {
        let n = state.resources.count
        if n % 2 == 1 { try await Task.sleep(nanoseconds: 30_000_000) }
        lock.withLock { counts.append(n) }
    }

    func remove() async throws {}
}

struct JournalTests {
    @Test func writesReachASlowStoreInTheJournalsOrder() async throws {
        let store = UnevenStore()
        let target = StackTarget(region: "us-east-1", account: "123456789012", endpoint: nil, endpoints: [:])
        let state = StackState(stackId: "sa-test", target: target,
                               config: StackConfig(domainPrefix: "abcdefgh", domainPrefixGenerated: false), resources: [])
        let journal = Journal(state: state, file: store)
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<8 {
                group.addTask { try? await journal.markPending(key: "k\(i)", type: "test:kind", name: nil) }
            }
        }
        // Each write waited for the one before: an older state never lands after a newer one.
        #expect(store.written == Array(1...8))
    }
}

/// A first create stopped before STS answered records no account: the ARNs of what it made
/// still say where it lives, so a resume with another account's credentials is refused.
@Suite struct RecordedAccountTests {
    @Test func theAccountOfARecordedARNStandsInForAMissingAccount() {
        var state = Harness.emptyState()
        state.target.account = ""
        #expect(state.accountOfRecordedARNs == nil)
        state.resources = [
            ResourceRecord(key: "lambda_role_policy", type: "iam:role-policy-attachment", status: .created,
                           arn: "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"),
            ResourceRecord(key: "user_pool", type: "cognito-idp:user-pool", status: .pending),
            ResourceRecord(key: "lambda_role", type: "iam:role", status: .created, arn: "arn:aws:iam::111122223333:role/APIGatewayLambdaRole"),
        ]
        #expect(state.accountOfRecordedARNs == "111122223333")
    }
}
