/// A signing instant in UTC, held as whole seconds since the Unix epoch. SigV4 needs only
/// `YYYYMMDD'T'HHMMSS'Z'` and `YYYYMMDD`, so this avoids Foundation's formatters.
public struct SigningTime: Sendable, Equatable {
    public let secondsSince1970: Int64

    public init(secondsSince1970: Int64) {
        self.secondsSince1970 = secondsSince1970
    }

    /// Parses ISO 8601 `YYYY-MM-DDTHH:MM:SSZ` (fractional seconds and numeric offsets allowed)
    /// or the compact `YYYYMMDDTHHMMSSZ`.
    public init?(iso8601 text: String) {
        let chars = Array(text.utf8)
        var i = 0
        func number(_ digits: Int) -> Int? {
            guard i + digits <= chars.count else { return nil }
            var n = 0
            for k in 0..<digits {
                let c = chars[i + k]
                guard c >= 0x30 && c <= 0x39 else { return nil }
                n = n * 10 + Int(c - 0x30)
            }
            i += digits
            return n
        }
        func skip(_ c: UInt8) -> Bool {
            if i < chars.count && chars[i] == c { i += 1; return true }
            return false
        }
        guard let year = number(4) else { return nil }
        let extended = skip(0x2d)  // '-'
        guard let month = number(2), !extended || skip(0x2d), let day = number(2) else { return nil }
        guard skip(0x54) || skip(0x74) || skip(0x20) else { return nil }  // 'T', 't' or ' '
        guard let hour = number(2), !extended || skip(0x3a), let minute = number(2),
              !extended || skip(0x3a), let second = number(2) else { return nil }
        if skip(0x2e) {  // fractional seconds are ignored: SigV4 has one-second resolution
            while i < chars.count, chars[i] >= 0x30, chars[i] <= 0x39 { i += 1 }
        }
        var offset = 0
        if skip(0x5a) || skip(0x7a) {
            offset = 0
        } else if i < chars.count, chars[i] == 0x2b || chars[i] == 0x2d {
            let sign = chars[i] == 0x2d ? -1 : 1
            i += 1
            guard let oh = number(2) else { return nil }
            _ = skip(0x3a)
            guard let om = number(2) else { return nil }
            offset = sign * (oh * 3600 + om * 60)
        } else {
            return nil
        }
        guard i == chars.count, (1...12).contains(month), (1...31).contains(day), hour < 24,
              minute < 60, second < 61 else { return nil }
        let days = Self.daysFromCivil(year: year, month: month, day: day)
        secondsSince1970 = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offset)
    }

    /// `20150830T123600Z`
    public var amzDate: String {
        let (y, m, d, hh, mm, ss) = components
        return pad(y, 4) + pad(m, 2) + pad(d, 2) + "T" + pad(hh, 2) + pad(mm, 2) + pad(ss, 2) + "Z"
    }

    /// `20150830`
    public var dateStamp: String {
        let (y, m, d, _, _, _) = components
        return pad(y, 4) + pad(m, 2) + pad(d, 2)
    }

    /// `2015-08-30T12:36:00Z`
    public var iso8601: String {
        let (y, m, d, hh, mm, ss) = components
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(hh, 2)):\(pad(mm, 2)):\(pad(ss, 2))Z"
    }

    private var components: (Int, Int, Int, Int, Int, Int) {
        let days = Int(secondsSince1970.floorDiv(86_400))
        let secs = Int(secondsSince1970 - Int64(days) * 86_400)
        let (y, m, d) = Self.civilFromDays(days)
        return (y, m, d, secs / 3600, secs % 3600 / 60, secs % 60)
    }

    private func pad(_ n: Int, _ width: Int) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    // Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian calendar).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civilFromDays(_ z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}

extension Int64 {
    fileprivate func floorDiv(_ d: Int64) -> Int64 {
        let q = self / d
        return (self % d != 0 && (self < 0) != (d < 0)) ? q - 1 : q
    }
}
