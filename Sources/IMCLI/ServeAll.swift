// Owned by the lead: wires comet, logic, router, job and the memory queue into one process.
// Replaced by the real wiring once the role modules land.
enum ServeAll {
    static func run(_ configuration: ServeConfiguration) -> Int32 {
        1
    }
}
