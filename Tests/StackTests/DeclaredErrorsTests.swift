@testable import AWSClient
import Testing
@testable import Stack

/// Each kind's declared "not found" (only those codes ever read as "already gone", which drops
/// a record from state) and "already exists" (adopted only when find proves it ours).
@Suite struct DeclaredErrorsTests {
    static func error(_ code: String, _ status: Int) -> AWSServiceError {
        AWSServiceError(service: "test", operation: "Test", code: code, message: "", httpStatus: status, requestId: nil)
    }

    /// A kind of a service the table lacks would never see "not found": its delete of a
    /// vanished resource would fail forever. Every kind of every pattern has codes.
    @Test(arguments: AuthPattern.allCases)
    func everyKindKnowsItsNotFoundCodes(auth: AuthPattern) {
        for node in StackGraph.forAuth(auth).nodes {
            #expect(!node.notFoundCodes.isEmpty, "\(node.key) (\(node.type)) declares no not-found code")
        }
    }

    /// A bare 404 (a proxy's page, a wrong path) is not AWS saying "no such role".
    @Test func aBare404IsNotNotFound() {
        let role = LambdaRoleResource()
        #expect(role.isNotFound(Self.error("NoSuchEntity", 404)))
        #expect(!role.isNotFound(Self.error("NotFound", 404)))
        #expect(!role.isNotFound(Self.error("", 404)))
        #expect(!role.isNotFound(Self.error("ResourceNotFoundException", 404)))  // Lambda's code, not IAM's
        let stage = StageResource(dependencies: [])
        #expect(stage.isNotFound(Self.error("NotFoundException", 404)) && !stage.isNotFound(Self.error("NoSuchEntity", 404)))
        #expect(TestUserResource().isNotFound(Self.error("UserNotFoundException", 400)))
        #expect(TestUserResource().isNotFound(Self.error("ResourceNotFoundException", 400)))  // its pool is gone
    }

    @Test func alreadyExistsIsEachKindsOwnAnswer() {
        #expect(LambdaRoleResource().isAlreadyExists(Self.error("EntityAlreadyExists", 409)))
        #expect(!LambdaRoleResource().isAlreadyExists(Self.error("ResourceConflictException", 409)))
        #expect(LambdaFunctionResource().isAlreadyExists(Self.error("ResourceConflictException", 409)))
        #expect(StageResource(dependencies: []).isAlreadyExists(Self.error("ConflictException", 409)))
        #expect(TestUserResource().isAlreadyExists(Self.error("UsernameExistsException", 400)))
        // A kind whose name AWS does not keep unique never adopts on a refusal.
        #expect(!HTTPAPIResource().isAlreadyExists(Self.error("ConflictException", 409)))
    }
}
