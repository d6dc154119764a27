/// The rows a query returned, in text form (libpq's text protocol), plus the affected-row count.
public struct PostgresRows: Sendable {
    public let columns: [String]
    public let rows: [[String?]]
    /// Rows inserted, updated or deleted (from the command tag); 0 for SELECT.
    public let affected: Int

    public init(columns: [String], rows: [[String?]], affected: Int) {
        self.columns = columns
        self.rows = rows
        self.affected = affected
    }

    /// The value in `column` of row `row`, nil for SQL NULL or an unknown column.
    public func value(_ row: Int, _ column: String) -> String? {
        guard let index = columns.firstIndex(of: column), row < rows.count else { return nil }
        return rows[row][index]
    }

    /// Every row as a column-name dictionary (for small result sets).
    public var records: [[String: String?]] {
        rows.map { row in Dictionary(uniqueKeysWithValues: zip(columns, row)) }
    }
}
