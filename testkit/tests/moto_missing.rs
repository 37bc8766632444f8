//! Checks that a missing moto_server fails loudly with the fix, instead of skipping tests.
//! Alone in its own test binary because it changes the process environment.

#[test]
fn missing_moto_server_panics_with_the_fix() {
    std::env::set_var("CF_DOCTOR_MOTO_SERVER", "/nonexistent/moto_server");
    let panic = std::panic::catch_unwind(cf_doctor_testkit::Moto::start)
        .expect_err("Moto::start must panic without moto_server");
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .expect("panic message is a formatted String");
    assert!(
        message.contains("moto_server not found at /nonexistent/moto_server"),
        "{message}"
    );
    assert!(message.contains("make venv"), "{message}");
}
