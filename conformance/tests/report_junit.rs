//! JUnit XML: well-formed, escaped, grouped by scenario directory, with the whole failure story.

mod report_support;

use gatesim_conformance::outcome::Failure;
use gatesim_conformance::report::junit;
use report_support::xml::{self, Element};
use report_support::{failure, scenario};

fn attr<'a>(element: &'a Element, name: &str) -> &'a str {
    element
        .attribute(name)
        .unwrap_or_else(|| panic!("<{}> has no `{name}`", element.name))
}

fn mixed_run() -> Vec<gatesim_conformance::outcome::ScenarioResult> {
    let mut broken = failure(
        3,
        "expect-http",
        Some("exact header match"),
        "expected status 200\nobserved status 404\nbody: {\"path\": \"/\"}",
    );
    broken.related_status = Some("conditions:\n- type: Accepted\n  status: \"True\"\n".to_owned());
    vec![
        scenario("HTTPRouteWeight", "httproute", &["HTTPRoute"])
            .took(840)
            .passed(),
        scenario("GatewayModifyListeners", "gateway", &[])
            .took(1250)
            .passed(),
        scenario("HTTPRouteHeaderMatching", "httproute", &["HTTPRoute"])
            .took(2000)
            .failed(broken),
        scenario("HTTPRouteSimpleSameNamespace", "httproute", &["HTTPRoute"])
            .skipped("--skip-tests"),
        scenario(
            "HTTPRouteCORS",
            "httproute",
            &["HTTPRoute", "HTTPRouteCORS"],
        )
        .unsupported(&["HTTPRouteCORS", "HTTPRouteMethodMatching"]),
    ]
}

#[test]
fn a_suite_per_directory_with_totals() {
    let doc = xml::parse(&junit::to_xml("gatesim sim", &mixed_run())).unwrap();
    assert_eq!(doc.name, "testsuites");
    assert_eq!(attr(&doc, "name"), "gatesim sim");
    assert_eq!(attr(&doc, "tests"), "5");
    assert_eq!(attr(&doc, "failures"), "1");
    assert_eq!(attr(&doc, "errors"), "0");
    assert_eq!(attr(&doc, "skipped"), "2");
    assert_eq!(attr(&doc, "time"), "4.090");

    let suites: Vec<&Element> = doc.elements().collect();
    let names: Vec<&str> = suites.iter().map(|s| attr(s, "name")).collect();
    assert_eq!(names, ["httproute", "gateway"]);
    let http = suites[0];
    assert_eq!(
        (
            attr(http, "tests"),
            attr(http, "failures"),
            attr(http, "skipped")
        ),
        ("4", "1", "2")
    );
    let cases: Vec<&Element> = http.elements().collect();
    assert!(
        cases
            .iter()
            .all(|c| c.name == "testcase" && attr(c, "classname") == "httproute")
    );
    let case_names: Vec<&str> = cases.iter().map(|c| attr(c, "name")).collect();
    assert_eq!(
        case_names,
        [
            "HTTPRouteWeight",
            "HTTPRouteHeaderMatching",
            "HTTPRouteSimpleSameNamespace",
            "HTTPRouteCORS"
        ]
    );
    assert_eq!(attr(cases[0], "time"), "0.840");
    assert!(
        cases[0]
            .children
            .iter()
            .all(|c| matches!(c, xml::Node::Text(t) if t.trim().is_empty()))
    );
    assert_eq!(attr(suites[1], "time"), "1.250");
}

#[test]
fn failures_carry_step_case_expected_observed_and_status() {
    let doc = xml::parse(&junit::to_xml("gatesim", &mixed_run())).unwrap();
    let case = doc
        .elements()
        .flat_map(Element::elements)
        .find(|c| attr(c, "name") == "HTTPRouteHeaderMatching")
        .unwrap();
    let failure = case.child("failure").expect("a <failure>");
    assert_eq!(
        attr(failure, "message"),
        "steps[3].expect-http case exact header match: expected status 200"
    );
    assert_eq!(attr(failure, "type"), "expect-http");
    assert_eq!(
        failure.text(),
        concat!(
            "file: scenarios/httproute/HTTPRouteHeaderMatching.yaml\n",
            "step: steps[3].expect-http\n",
            "case: exact header match\n",
            "expected status 200\n",
            "observed status 404\n",
            "body: {\"path\": \"/\"}\n",
            "related status:\n",
            "  conditions:\n",
            "  - type: Accepted\n",
            "    status: \"True\"\n",
        )
    );
}

#[test]
fn skipped_and_unsupported_say_why() {
    let doc = xml::parse(&junit::to_xml("gatesim", &mixed_run())).unwrap();
    let skipped: Vec<(String, String)> = doc
        .elements()
        .flat_map(Element::elements)
        .filter_map(|c| {
            c.child("skipped")
                .map(|s| (attr(c, "name").to_owned(), attr(s, "message").to_owned()))
        })
        .collect();
    assert_eq!(
        skipped,
        [
            (
                "HTTPRouteSimpleSameNamespace".to_owned(),
                "--skip-tests".to_owned()
            ),
            (
                "HTTPRouteCORS".to_owned(),
                "unsupported features: HTTPRouteCORS, HTTPRouteMethodMatching".to_owned()
            ),
        ]
    );
}

#[test]
fn markup_characters_survive_a_round_trip() {
    let nasty = "a<b & c>\"d\" 'e' ]]> \t end";
    let result = scenario("Odd<&\"'>Name", "weird&dir", &[]).failed(Failure {
        step: Some((0, "expect-http".to_owned())),
        case: Some(nasty.to_owned()),
        message: format!("{nasty}\nsecond line \u{1b}[31m"),
        related_status: Some(format!("note: {nasty}\n")),
    });
    let text = junit::to_xml("run <1> & \"2\"", std::slice::from_ref(&result));
    assert!(!text.contains('\u{1b}'), "raw ESC in the document");
    let doc = xml::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(attr(&doc, "name"), "run <1> & \"2\"");
    let suite = doc.elements().next().unwrap();
    assert_eq!(attr(suite, "name"), "weird&dir");
    let case = suite.elements().next().unwrap();
    assert_eq!(attr(case, "name"), "Odd<&\"'>Name");
    assert_eq!(attr(case, "classname"), "weird&dir");
    let failure = case.child("failure").unwrap();
    assert_eq!(
        attr(failure, "message"),
        format!("steps[0].expect-http case {nasty}: {}", nasty.trim())
    );
    let body = failure.text();
    assert!(body.contains(&format!("case: {nasty}\n")), "{body}");
    assert!(body.contains("second line \\u{1b}[31m\n"), "{body}");
    assert!(body.contains(&format!("  note: {nasty}\n")), "{body}");
}

#[test]
fn exact_document_for_a_small_run() {
    let results = vec![
        scenario("HTTPRouteWeight", "httproute", &["HTTPRoute"])
            .took(840)
            .passed(),
        scenario(
            "HTTPRouteCORS",
            "httproute",
            &["HTTPRoute", "HTTPRouteCORS"],
        )
        .took(1500)
        .failed(failure(
            1,
            "expect-http",
            None,
            "expected header \"x\" <missing>",
        )),
    ];
    assert_eq!(
        junit::to_xml("gatesim", &results),
        r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="gatesim" tests="2" failures="1" errors="0" skipped="0" time="2.340">
  <testsuite name="httproute" tests="2" failures="1" errors="0" skipped="0" time="2.340">
    <testcase name="HTTPRouteWeight" classname="httproute" time="0.840"/>
    <testcase name="HTTPRouteCORS" classname="httproute" time="1.500">
      <failure message="steps[1].expect-http: expected header &quot;x&quot; &lt;missing&gt;" type="expect-http">file: scenarios/httproute/HTTPRouteCORS.yaml
step: steps[1].expect-http
expected header "x" &lt;missing&gt;
</failure>
    </testcase>
  </testsuite>
</testsuites>
"#
    );
}

#[test]
fn an_empty_run_is_still_a_valid_document() {
    let doc = xml::parse(&junit::to_xml("gatesim", &[])).unwrap();
    assert_eq!(attr(&doc, "tests"), "0");
    assert_eq!(doc.elements().count(), 0);
}
#[test]
fn the_reader_rejects_malformed_documents() {
    for bad in [
        "<a>",
        "<a></b>",
        "<a>x & y</a>",
        "<a>x < y</a>",
        "<a b=\"1\" b=\"2\"/>",
        "<a b=1/>",
        "<a b=\"<\"/>",
        "<a>]]></a>",
        "<a>&bogus;</a>",
        "<a/><b/>",
        "<a>\u{1b}</a>",
        "<a>&#27;</a>",
    ] {
        assert!(xml::parse(bad).is_err(), "accepted {bad:?}");
    }
    let ok =
        xml::parse("<?xml version=\"1.0\"?>\n<a x='&quot;1&#10;'><b>t&amp;&lt;</b></a>\n").unwrap();
    assert_eq!(ok.attribute("x"), Some("\"1\n"));
    assert_eq!(ok.child("b").unwrap().text(), "t&<");
}
