"""Reading files into specs and arrays: YAML/JSON/CSV/Parquet (files), deals, scenarios and decks
(loading, decks), loan tapes and rep lines (loans), servicers' collection reports
(collection_reports); and the way out: tables shown to people (display: text and HTML with one
set of number formats) and written for them (tables: Excel workbooks, folders of CSV or
Parquet). Nothing else in the library touches files of these kinds."""
