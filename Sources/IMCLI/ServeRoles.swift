/// `imctl serve comet|logic|router|job`: one role per process (design.md §2). The wiring
/// needs the RPC clients and method tables of the roles; until they are merged, the commands
/// resolve and print their settings but do not serve.
enum ServeRoles {
    static func router(_ configuration: RouterServeConfiguration) -> Int32 { unavailable("router") }
    static func logic(_ configuration: LogicServeConfiguration) -> Int32 { unavailable("logic") }
    static func job(_ configuration: JobServeConfiguration) -> Int32 { unavailable("job") }
    static func comet(_ configuration: CometServeConfiguration) -> Int32 { unavailable("comet") }

    private static func unavailable(_ role: String) -> Int32 {
        ServeLifecycle.logger.error("imctl serve \(role): not wired yet; use 'imctl serve all'")
        return 1
    }
}
