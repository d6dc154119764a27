import Basics

extension ImportedCall {
    /// Why this call cannot be stored at all (its external id is not usable); nil when it can.
    var idProblem: String? {
        UntrustedText.problem(externalId, maxBytes: 200).map { "external id \($0)" }
    }

    /// The call with every free text made storable (NUL and control characters removed, lengths
    /// capped): a vendor's odd transcript line never fails the page it came in.
    func cleaned() -> ImportedCall {
        func clean(_ text: String?, _ max: Int) -> String? { text.map { UntrustedText.cleaned($0, maxBytes: max) } }
        var call = self
        call.title = clean(title, 1000)
        call.direction = clean(direction, 50)
        call.recordingURL = clean(recordingURL, 4000)
        call.participants = participants.map { p in
            Participant(name: clean(p.name, 500), email: clean(p.email, 320), title: clean(p.title, 500), affiliation: clean(p.affiliation, 100),
                        speakerId: clean(p.speakerId, 200))
        }
        call.transcript = transcript?.map { $0.cleaned() }
        return call
    }
}

extension TranscriptSegment {
    /// The segment with storable text (see `ImportedCall.cleaned`).
    func cleaned() -> TranscriptSegment {
        TranscriptSegment(speaker: speaker.map { UntrustedText.cleaned($0, maxBytes: 500) }, startMs: startMs, endMs: endMs,
                          text: UntrustedText.cleaned(text, maxBytes: 100_000))
    }
}
