//! Inputs as warehouses export them: Hive `dt=` folders, globs, other column names mapped in
//! the config. The profiles must be the same as from the plain layout.

use crate::util::*;

#[test]
fn hive_folders_globs_and_column_mapping_read_the_same_data() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    copy_dir(&tiny(), &input);
    // orders split over two Hive partitions
    let orders = std::fs::read_to_string(input.join("orders/orders.csv")).unwrap();
    let mut lines = orders.lines();
    let header = lines.next().unwrap().replace("net_amount", "amount_paid");
    let rows: Vec<&str> = lines.collect();
    std::fs::remove_file(input.join("orders/orders.csv")).unwrap();
    for (part, chunk) in [("dt=2026-11-21", &rows[..10]), ("dt=2026-11-22", &rows[10..])] {
        std::fs::create_dir_all(input.join("orders").join(part)).unwrap();
        std::fs::write(input.join("orders").join(part).join("part-0.csv"), format!("{header}\n{}\n", chunk.join("\n"))).unwrap();
    }
    // events moved beside other files, selected by a glob
    std::fs::create_dir_all(input.join("exports")).unwrap();
    std::fs::rename(input.join("events/events.csv"), input.join("exports/events-2026-11-22.csv")).unwrap();
    std::fs::write(input.join("exports/readme.txt"), "not data").unwrap();

    let cfg = dir.path().join("p.toml");
    let mut text = std::fs::read_to_string(nightly()).unwrap();
    text = text
        .replace("[tables.orders]\npath = \"orders\"", "[tables.orders]\npath = \"orders\"\ncolumns = { net_amount = \"amount_paid\" }");
    text.push_str("\n[tables.events]\npath = \"exports/events-*.csv\"\n");
    std::fs::write(&cfg, text).unwrap();

    let (plain, mapped) = (dir.path().join("plain"), dir.path().join("mapped"));
    run_ok(&nightly(), &tiny(), &plain);
    run_ok(&cfg, &input, &mapped);
    let (a, b) = (table(&plain, "profiles"), table(&mapped, "profiles"));
    assert!(a.equals_missing(&b), "same profiles from either layout");
    let m = manifest(&mapped);
    assert_eq!(m["accounting"]["orders"]["read"].as_u64(), Some(27));
    assert_eq!(m["inputs"].as_array().unwrap().iter().filter(|f| f["table"] == "orders").count(), 2);
}
