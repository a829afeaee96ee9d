//! The ready-made CI files in ci/ are valid for the systems that run them: each checked
//! against the JSON schema those systems publish, vendored in ci/schemas/ (SchemaStore's
//! GitHub workflow and GitLab CI schemas as check-jsonschema 0.39.0 ships them; Kubernetes
//! 1.33's batch/v1 Job as kubernetes-validate 1.37.0 ships it; ci/schemas/README.md), read
//! by a maintained YAML parser (serde_norway) and validated by boon, built without network
//! access. A broken copy of each is refused, so the check is not vacuous.

use serde_json::Value as Json;
use serde_norway::Value as Yaml;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn json(path: &str) -> Json {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> (Yaml, Json) {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    let y: Yaml = serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let j: Json = serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    (y, j)
}

/// A validator for one schema: its location and the documents it refers to.
struct Validator {
    schemas: boon::Schemas,
    index: boon::SchemaIndex,
}

impl Validator {
    fn new(loc: &str, docs: &[(&str, &str)]) -> Validator {
        let mut c = boon::Compiler::new();
        for (url, file) in docs {
            c.add_resource(url, json(file)).unwrap();
        }
        let mut schemas = boon::Schemas::new();
        let index = c
            .compile(loc, &mut schemas)
            .unwrap_or_else(|e| panic!("{loc}: {e:#}"));
        Validator { schemas, index }
    }

    fn check(&self, v: &Json) -> Result<(), String> {
        self.schemas
            .validate(v, self.index)
            .map_err(|e| format!("{e:#}"))
    }
}

fn github() -> Validator {
    let url = "https://json.schemastore.org/github-workflow.json";
    Validator::new(url, &[(url, "ci/schemas/github-workflow.json")])
}

fn gitlab() -> Validator {
    let url = "file:///schemas/gitlab-ci.json";
    Validator::new(url, &[(url, "ci/schemas/gitlab-ci.json")])
}

/// The Job schema (`$id` https://kubernetes.io/api/...) names its parts
/// `/api/_definitions.json#/$defs/...`, resolved against its `$id`.
fn k8s_job() -> Validator {
    Validator::new(
        "file:///schemas/job-batch-v1.json",
        &[
            (
                "file:///schemas/job-batch-v1.json",
                "ci/schemas/k8s-1.33-job-batch-v1.json",
            ),
            (
                "https://kubernetes.io/api/_definitions.json",
                "ci/schemas/k8s-1.33-definitions.json",
            ),
        ],
    )
}

#[test]
fn the_github_workflow_fits_its_schema_and_its_on_key_is_a_string() {
    let (y, j) = yaml("ci/github/leaseproof.yml");
    let Yaml::Mapping(top) = &y else {
        panic!("a workflow is a mapping")
    };
    assert!(
        top.contains_key(Yaml::String("on".into())),
        "the `on` key must read as the string \"on\" (YAML 1.1 reads a bare on as true)"
    );
    assert!(!top.contains_key(Yaml::Bool(true)));
    let v = github();
    v.check(&j).unwrap();
    // The shards reuse one build, the merge runs unless cancelled and carries the exit code.
    assert_eq!(j["jobs"]["shard"]["needs"], "build");
    assert_eq!(j["jobs"]["merge"]["if"], "${{ !cancelled() }}");
    let run = j["jobs"]["shard"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["run"].as_str())
        .find(|r| r.contains("--shard"))
        .unwrap();
    assert!(run.contains("--shard ${{ matrix.shard }}/${{ strategy.job-total }}"));
    // A broken copy is refused: a job without runs-on or steps.
    let mut broken = j.clone();
    broken["jobs"]["merge"]
        .as_object_mut()
        .unwrap()
        .remove("runs-on");
    assert!(
        v.check(&broken).is_err(),
        "the schema must refuse a job with no runner"
    );
}

#[test]
fn the_kubernetes_jobs_fit_the_batch_v1_schema() {
    let v = k8s_job();
    let (_, shards) = yaml("ci/kubernetes/shards-job.yaml");
    let (_, merge) = yaml("ci/kubernetes/merge-job.yaml");
    v.check(&shards).unwrap();
    v.check(&merge).unwrap();
    let spec = &shards["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    assert_eq!(spec["completions"], spec["parallelism"]);
    let env = &spec["template"]["spec"]["containers"][0]["env"];
    let shards_env = env
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "SHARDS")
        .unwrap();
    assert_eq!(
        shards_env["value"].as_str().unwrap(),
        spec["completions"].to_string(),
        "SHARDS is the number of completions"
    );
    let rules = spec["podFailurePolicy"]["rules"].as_array().unwrap();
    assert_eq!(rules[0]["action"], "FailIndex");
    assert_eq!(
        rules[0]["onExitCodes"]["values"],
        serde_json::json!([2, 3, 4, 5])
    );
    assert_eq!(merge["spec"]["backoffLimit"], 0);
    // A broken copy is refused: a completion mode Kubernetes does not have.
    let mut broken = shards.clone();
    broken["spec"]["completionMode"] = Json::from(7);
    assert!(v.check(&broken).is_err());
    let mut unknown = shards;
    unknown["spec"]["shardsPlease"] = Json::from(true);
    assert!(
        v.check(&unknown).is_err(),
        "strict: unknown fields are refused"
    );
}

#[test]
fn the_gitlab_file_fits_its_schema() {
    let v = gitlab();
    let (_, j) = yaml("ci/gitlab/leaseproof.gitlab-ci.yml");
    v.check(&j).unwrap();
    assert_eq!(j["leaseproof-shard"]["parallel"], 4);
    let mut broken = j;
    broken["leaseproof-merge"]["when"] = Json::from("sometimes");
    assert!(v.check(&broken).is_err());
}
