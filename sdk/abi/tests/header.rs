//! `sortie_plugin.h` and the Rust definitions describe the same ABI: a C program compiled
//! against the header prints every constant, size and field offset, and each must equal the
//! Rust one. Needs a C compiler (`cc`), as any C plugin does.

use std::mem::{offset_of, size_of};
use std::process::Command;

use sortie_plugin_abi::*;

fn c_layout() -> String {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("layout.c");
    let fields = [
        "magic",
        "abi_major",
        "abi_minor",
        "size",
        "str_size",
        "buf_size",
        "reserved",
        "name",
        "version",
        "describe",
        "source",
        "resolve",
        "check_plan",
        "open",
        "check",
        "list_page",
        "open_item",
        "read",
        "close_body",
        "close_source",
        "free_buf",
    ];
    let mut program = String::from(
        "#include <stdio.h>\n#include <string.h>\n#include <stddef.h>\n#include \"sortie_plugin.h\"\nint main(void) {\n",
    );
    program.push_str(
        "printf(\"magic %u\\nmajor %u\\nminor %u\\nok %d\\nerror %d\\nentry %s\\n\", SORTIE_PLUGIN_MAGIC, SORTIE_ABI_MAJOR, SORTIE_ABI_MINOR, SORTIE_OK, SORTIE_ERROR, SORTIE_PLUGIN_ENTRY);\n",
    );
    program.push_str(
        "printf(\"str %zu %zu %zu\\n\", sizeof(sortie_str), offsetof(sortie_str, ptr), offsetof(sortie_str, len));\n",
    );
    program.push_str(
        "printf(\"buf %zu %zu %zu\\n\", sizeof(sortie_buf), offsetof(sortie_buf, ptr), offsetof(sortie_buf, len));\n",
    );
    program.push_str("printf(\"plugin %zu\\n\", sizeof(sortie_plugin));\n");
    for field in fields {
        program.push_str(&format!("printf(\"{field} %zu\\n\", offsetof(sortie_plugin, {field}));\n"));
    }
    for (field, c_type) in SIGNATURES {
        let declared = match field {
            "entry" => "sortie_plugin_entry_fn".to_owned(),
            _ => format!("__typeof__(((sortie_plugin *)0)->{field})"),
        };
        program.push_str(&format!(
            "_Static_assert(__builtin_types_compatible_p({declared}, {c_type}), \"{field} is {c_type}\");\n"
        ));
    }
    program.push_str("return 0;\n}\n");
    std::fs::write(&source, program).unwrap();
    let binary = dir.path().join("layout");
    let compiled = Command::new("cc")
        .args(["-std=c11", "-Wall", "-Werror", "-I", env!("CARGO_MANIFEST_DIR"), "-o"])
        .arg(&binary)
        .arg(&source)
        .output()
        .expect("a C compiler (cc) is needed to check sortie_plugin.h");
    assert!(
        compiled.status.success(),
        "sortie_plugin.h does not compile: {}",
        String::from_utf8_lossy(&compiled.stderr)
    );
    let run = Command::new(&binary).output().unwrap();
    assert!(run.status.success());
    String::from_utf8(run.stdout).unwrap()
}

/// Every function of the table, and the entry point: the C type the header must declare.
/// `rust_signatures` spells out the same types in Rust and compiles only while the table has
/// them, so that neither side can change alone.
const SIGNATURES: [(&str, &str); 13] = [
    ("describe", "int32_t (*)(sortie_buf *)"),
    ("source", "int32_t (*)(sortie_str, sortie_str, sortie_str, sortie_buf *)"),
    ("resolve", "int32_t (*)(sortie_str, sortie_str, sortie_buf *)"),
    ("check_plan", "int32_t (*)(sortie_str, sortie_str, sortie_buf *)"),
    ("open", "int32_t (*)(sortie_str, sortie_str, void **, sortie_buf *)"),
    ("check", "int32_t (*)(void *, sortie_buf *)"),
    ("list_page", "int32_t (*)(void *, sortie_str, sortie_buf *)"),
    ("open_item", "int32_t (*)(void *, sortie_str, void **, sortie_buf *)"),
    ("read", "int32_t (*)(void *, uint8_t *, size_t, size_t *, sortie_buf *)"),
    ("close_body", "void (*)(void *)"),
    ("close_source", "void (*)(void *)"),
    ("free_buf", "void (*)(sortie_buf)"),
    ("entry", "const sortie_plugin *(*)(void)"),
];

/// The Rust side of [`SIGNATURES`].
#[allow(dead_code)]
fn rust_signatures(table: &SortiePlugin, entry: EntryFn) -> unsafe extern "C" fn() -> *const SortiePlugin {
    use std::ffi::c_void;
    let _: unsafe extern "C" fn(*mut SortieBuf) -> i32 = table.describe;
    let _: unsafe extern "C" fn(SortieStr, SortieStr, SortieStr, *mut SortieBuf) -> i32 = table.source;
    let _: unsafe extern "C" fn(SortieStr, SortieStr, *mut SortieBuf) -> i32 = table.resolve;
    let _: unsafe extern "C" fn(SortieStr, SortieStr, *mut SortieBuf) -> i32 = table.check_plan;
    let _: unsafe extern "C" fn(SortieStr, SortieStr, *mut *mut c_void, *mut SortieBuf) -> i32 = table.open;
    let _: unsafe extern "C" fn(*mut c_void, *mut SortieBuf) -> i32 = table.check;
    let _: unsafe extern "C" fn(*mut c_void, SortieStr, *mut SortieBuf) -> i32 = table.list_page;
    let _: unsafe extern "C" fn(*mut c_void, SortieStr, *mut *mut c_void, *mut SortieBuf) -> i32 = table.open_item;
    let _: unsafe extern "C" fn(*mut c_void, *mut u8, usize, *mut usize, *mut SortieBuf) -> i32 = table.read;
    let _: unsafe extern "C" fn(*mut c_void) = table.close_body;
    let _: unsafe extern "C" fn(*mut c_void) = table.close_source;
    let _: unsafe extern "C" fn(SortieBuf) = table.free_buf;
    entry
}

#[test]
fn the_header_matches_the_rust_definitions() {
    let entry = std::str::from_utf8(&ENTRY_SYMBOL[..ENTRY_SYMBOL.len() - 1]).unwrap();
    let mut expected = format!(
        "magic {MAGIC}\nmajor {ABI_MAJOR}\nminor {ABI_MINOR}\nok {OK}\nerror {ERROR}\nentry {entry}\n\
         str {} {} {}\nbuf {} {} {}\nplugin {}\n",
        size_of::<SortieStr>(),
        offset_of!(SortieStr, ptr),
        offset_of!(SortieStr, len),
        size_of::<SortieBuf>(),
        offset_of!(SortieBuf, ptr),
        offset_of!(SortieBuf, len),
        size_of::<SortiePlugin>(),
    );
    macro_rules! offsets {
        ($($field:ident),*) => { $( expected.push_str(&format!("{} {}\n", stringify!($field), offset_of!(SortiePlugin, $field))); )* };
    }
    offsets!(
        magic,
        abi_major,
        abi_minor,
        size,
        str_size,
        buf_size,
        reserved,
        name,
        version,
        describe,
        source,
        resolve,
        check_plan,
        open,
        check,
        list_page,
        open_item,
        read,
        close_body,
        close_source,
        free_buf
    );
    assert_eq!(c_layout(), expected);
}
