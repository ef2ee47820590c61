import Testing
@testable import OAuth

/// The pieces of the scripted hosted-UI sign-in that read a page: URL resolution and the form.
/// (The whole sign-in runs against the emulator's hosted UI in tests/test_cli_dataplane.py.)
struct HostedUIFormTests {
    @Test func resolvesLocationsAndActionsAsABrowserDoes() {
        let base = "http://127.0.0.1:5000/_aws/cognito-idp/dom/login?client_id=a&x=1"
        #expect(HostedUIForm.resolve("https://other.example/p", against: base) == "https://other.example/p")
        #expect(HostedUIForm.resolve("/oauth2/x?y=1", against: base) == "http://127.0.0.1:5000/oauth2/x?y=1")
        #expect(HostedUIForm.resolve("?client_id=b", against: base) == "http://127.0.0.1:5000/_aws/cognito-idp/dom/login?client_id=b")
        #expect(HostedUIForm.resolve("error", against: base) == "http://127.0.0.1:5000/_aws/cognito-idp/dom/error")
    }

    @Test func readsTheFirstFormsActionAndHiddenFields() throws {
        let html = """
            <p>x</p><form method='post' action='?client_id=a&amp;state=s%20t'>
            <input type='hidden' name='_csrf' value='tok&amp;en'><input name="username" type="text" required>
            <INPUT TYPE="hidden" NAME="cognitoAsfData" value=""><input name='password' type='password'>
            </form><form action='/other'><input type='hidden' name='no' value='no'></form>
            """
        let form = try #require(HostedUIForm.firstForm(html))
        #expect(form.action == "?client_id=a&state=s%20t")
        #expect(form.hidden.map(\.0) == ["_csrf", "cognitoAsfData"] && form.hidden.map(\.1) == ["tok&en", ""])
        #expect(HostedUIForm.firstForm("<p>no form</p>") == nil)
    }
}
