/// A JSON decoding error said the way a person fixing the request needs it: where in the
/// document and what was wrong, without the decoder's internal description.
public enum JSONProblem {
    /// `error` (a `DecodingError`, usually) as "at a.b[2]: expected a string".
    public static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "not valid JSON" }
        func path(_ keys: [any CodingKey]) -> String {
            let text = keys.map { key in key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)" }.joined()
            let trimmed = text.hasPrefix(".") ? String(text.dropFirst()) : text
            return trimmed.isEmpty ? "the top level" : String(trimmed.prefix(200))
        }
        switch error {
        case .typeMismatch(let type, let context): return "at \(path(context.codingPath)): expected \(name(type))"
        case .valueNotFound(let type, let context): return "at \(path(context.codingPath)): expected \(name(type)), found null"
        case .keyNotFound(let key, let context): return "at \(path(context.codingPath + [key])): required member missing"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not valid JSON" : "at \(path(context.codingPath)): invalid value"
        @unknown default: return "not valid JSON"
        }
    }

    private static func name(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int.Type, is Double.Type, is Int32.Type, is Int64.Type: return "a number"
        case is Bool.Type: return "true or false"
        default:
            let text = String(describing: type)
            if text.hasPrefix("Array") { return "an array" }
            if text.hasPrefix("Dictionary") { return "an object" }
            return "a value of another kind"
        }
    }
}
