/// A TwiML document, built verb by verb, using only what Twilio, SignalWire (cXML) and Telnyx
/// (TeXML) all support: Say, Pause, Gather (DTMF), Dial with Number or Sip and an action URL,
/// Redirect, Enqueue, Hangup.
public struct TwiML: Sendable, Equatable, CustomStringConvertible {
    /// One instruction to the voice platform.
    public enum Verb: Sendable, Equatable {
        case say(String)
        case pause(seconds: Int)
        /// Collect DTMF digits while the prompt plays; the digits go to `action`.
        case gather(numDigits: Int, timeoutSeconds: Int, action: String, prompt: String)
        /// Connect to a SIP URI ("sip:…") or a phone number; the result goes to `action`.
        case dial(target: String, timeoutSeconds: Int, action: String)
        case redirect(String)
        case enqueue(String)
        case hangup
    }

    public var verbs: [Verb]

    public init(_ verbs: [Verb]) { self.verbs = verbs }

    /// The XML the platform reads.
    public var description: String {
        var xml = #"<?xml version="1.0" encoding="UTF-8"?><Response>"#
        for verb in verbs {
            switch verb {
            case .say(let text): xml += "<Say>\(Self.escape(text))</Say>"
            case .pause(let seconds): xml += #"<Pause length="\#(seconds)"/>"#
            case .gather(let digits, let timeout, let action, let prompt):
                xml += #"<Gather input="dtmf" numDigits="\#(digits)" timeout="\#(timeout)" action="\#(Self.escape(action))" method="POST">"#
                xml += "<Say>\(Self.escape(prompt))</Say></Gather>"
            case .dial(let target, let timeout, let action):
                xml += #"<Dial timeout="\#(timeout)" action="\#(Self.escape(action))" method="POST">"#
                xml += target.hasPrefix("sip:") ? "<Sip>\(Self.escape(target))</Sip>" : "<Number>\(Self.escape(target))</Number>"
                xml += "</Dial>"
            case .redirect(let url): xml += #"<Redirect method="POST">\#(Self.escape(url))</Redirect>"#
            case .enqueue(let queue): xml += "<Enqueue>\(Self.escape(queue))</Enqueue>"
            case .hangup: xml += "<Hangup/>"
            }
        }
        return xml + "</Response>"
    }

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(ch)
            }
        }
        return out
    }
}
