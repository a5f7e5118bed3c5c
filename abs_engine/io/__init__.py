"""Reading files into specs and arrays: YAML/JSON/CSV/Parquet (files), deals, scenarios and decks
(loading, decks), loan tapes and rep lines (loans), servicers' collection reports
(collection_reports). Nothing else in the library touches files of these kinds."""
