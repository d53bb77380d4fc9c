import Testing

@testable import IMNet

extension HTTPResponse {
    /// The first value of header `name`, compared case-insensitively.
    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

@Suite struct HTTPRouterTests {
    private var router: HTTPRouter {
        var router = HTTPRouter()
        router.post("/1/push") { _ in .json(#"{"ret":1}"#) }
        router.get("/1/count") { request in .json("\"\(request.method)\"") }
        router.add("delete", "/1/count") { _ in HTTPResponse(status: 204) }
        return router
    }

    @Test func routesByMethodAndPath() async {
        let response = await router.handle(HTTPRequest(method: "POST", path: "/1/push"))

        #expect(response.status == 200)
        #expect(response.body == Array(#"{"ret":1}"#.utf8))
    }

    @Test func unknownPathIsNotFound() async {
        let response = await router.handle(HTTPRequest(method: "GET", path: "/nope"))

        #expect(response.status == 404)
        #expect(String(decoding: response.body, as: UTF8.self).hasPrefix(#"{"ret":65535,"msg":"#))
    }

    @Test func knownPathWithAnotherMethodIsNotAllowedAndSaysWhatIs() async {
        let response = await router.handle(HTTPRequest(method: "PUT", path: "/1/count"))

        #expect(response.status == 405)
        #expect(response.header("Allow") == "DELETE, GET, HEAD")
        #expect(String(decoding: response.body, as: UTF8.self).contains("65535"))
    }

    @Test func headFallsBackToGet() async {
        let response = await router.handle(HTTPRequest(method: "HEAD", path: "/1/count"))

        #expect(response.status == 200)
        #expect(response.body == Array("\"HEAD\"".utf8))
    }
}
